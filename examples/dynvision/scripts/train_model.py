"""train_model: a few epochs of a nearest-mean classifier's update; logs its loss per epoch."""
import glob
import os

from common import log_metric, parser, read_json, write_json

p = parser(__doc__)
p.add_argument("--input_model_state", required=True)
p.add_argument("--dataset_path", required=True)
p.add_argument("--output_model_state", required=True)
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--lr", type=float, required=True)
a = p.parse_args()
m = read_json(a.input_model_state)
data = []
for c, f in enumerate(sorted(glob.glob(os.path.join(a.dataset_path, "train", "class*.csv")))):
    with open(f) as fh:
        data += [(c, [float(x) for x in line.split(",")]) for line in fh if line.strip()]
w = m["w"]
# Recurrence steps smooth each update (a stand-in for DynVision's tsteps).
step = a.lr * (1 + 0.1 * a.tsteps) * (2 if a.rctype == "full" else 1)
for epoch in range(a.epochs):
    loss = 0.0
    for c, x in data:
        for k in range(2):
            d = x[k] - w[c][k]
            w[c][k] += step * d
            loss += d * d
    loss /= len(data)
    log_metric(epoch=epoch, loss=round(loss, 6))
write_json(a.output_model_state, {**m, "w": [[round(v, 6) for v in row] for row in w], "epochs": a.epochs, "lr": a.lr})
