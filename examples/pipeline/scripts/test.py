"""Accuracy and loss of a trained model on its dataset."""
import argparse, json, os, sys

sys.path.insert(0, os.path.dirname(__file__))
from common import forward, load, loss  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--model", required=True)
p.add_argument("--out", required=True)
a = p.parse_args()
rows = load(a.data)
with open(a.model) as f:
    m = json.load(f)
w = m["weights"]
acc = sum((forward(w, x, y)[0] > 0.5) == bool(l) for x, y, l in rows) / len(rows)
with open(a.out, "w") as f:
    json.dump({"model": m["model"], "seed": m["seed"], "lr": m["lr"], "accuracy": acc, "loss": loss(w, rows)}, f)
print(f"accuracy {acc:.3f}")
