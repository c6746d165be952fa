"""Plain SGD on the tiny model; writes the trained weights and the loss curve."""
import argparse, json, os, sys

sys.path.insert(0, os.path.dirname(__file__))
from common import forward, load, loss  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--init", required=True)
p.add_argument("--lr", type=float, required=True)
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--out", required=True)
a = p.parse_args()
rows = load(a.data)
with open(a.init) as f:
    init = json.load(f)
w = init["weights"]
curve = []
for epoch in range(a.epochs):
    for x, y, l in rows:
        out, h = forward(w, x, y)
        g = out - l  # d loss / d logit
        if w["kind"] == "linear":
            w["w"][0] -= a.lr * g * x
            w["w"][1] -= a.lr * g * y
            w["b"] -= a.lr * g
        else:
            for k in range(4):
                gh = g * w["w2"][k] * (1 - h[k] ** 2)
                w["w2"][k] -= a.lr * g * h[k]
                w["w1"][k][0] -= a.lr * gh * x
                w["w1"][k][1] -= a.lr * gh * y
                w["b1"][k] -= a.lr * gh
            w["b2"] -= a.lr * g
    curve.append(round(loss(w, rows), 5))
    # Corral's metrics convention: the last value of each key is the run's result.
    if "CORRAL_RUN_DIR" in os.environ:
        with open(os.path.join(os.environ["CORRAL_RUN_DIR"], "metrics.jsonl"), "a") as m:
            m.write(json.dumps({"epoch": epoch, "loss": curve[-1]}) + "\n")
with open(a.out, "w") as f:
    json.dump({**init, "weights": w, "lr": a.lr, "curve": curve}, f)
print(f"trained {init['model']} lr={a.lr}: loss {curve[0]} -> {curve[-1]}")
