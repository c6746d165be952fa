"""test_model: accuracy of the trained model on the test split, and its responses."""
import glob
import os

from common import log_metric, parser, read_json, write_json

p = parser(__doc__)
p.add_argument("--input_model_state", required=True)
p.add_argument("--dataset_path", required=True)
p.add_argument("--output_results", required=True)
p.add_argument("--output_responses", required=True)
a = p.parse_args()
m = read_json(a.input_model_state)
right = total = 0
responses = []
for c, f in enumerate(sorted(glob.glob(os.path.join(a.dataset_path, "test", "class*.csv")))):
    with open(f) as fh:
        for line in fh:
            x = [float(v) for v in line.split(",")]
            guess = min(range(len(m["w"])), key=lambda k: sum((x[i] - m["w"][k][i]) ** 2 for i in range(2)))
            responses.append(guess)
            right += guess == c
            total += 1
accuracy = right / total
write_json(a.output_responses, responses)
with open(a.output_results, "w") as f:
    f.write("model,rctype,tsteps,seed,accuracy\n")
    f.write(f"{m['model']},{m['rctype']},{m['tsteps']},{m['seed']},{accuracy:.4f}\n")
log_metric(accuracy=round(accuracy, 4))
