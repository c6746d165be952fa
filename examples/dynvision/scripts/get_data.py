"""get_data: a dataset folder with a train and a test split (one CSV per class), as a download would leave it."""
import os
import sys

from common import parser, rng

p = parser(__doc__)
p.add_argument("--data_name", required=True)
p.add_argument("--output", required=True)
a = p.parse_args()
r = rng("data", a.data_name)
for split, rows in (("train", 40), ("test", 20)):
    os.makedirs(os.path.join(a.output, split), exist_ok=True)
    for c in range(3):
        with open(os.path.join(a.output, split, f"class{c}.csv"), "w") as f:
            for _ in range(rows):
                f.write(f"{r.gauss(c, 0.6):.4f},{r.gauss(-c, 0.6):.4f}\n")
print(f"{a.data_name}: 3 classes", file=sys.stderr)
