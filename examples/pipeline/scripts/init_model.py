"""Initial weights of a tiny model (a linear classifier, or a 2-layer MLP with 4 hidden units)."""
import argparse, json, random

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--seed", type=int, required=True)
p.add_argument("--out", required=True)
a = p.parse_args()
rng = random.Random(a.seed)
if a.model == "linear":
    w = {"kind": "linear", "w": [rng.gauss(0, 0.1) for _ in range(2)], "b": 0.0}
else:
    w = {"kind": "mlp", "w1": [[rng.gauss(0, 0.5) for _ in range(2)] for _ in range(4)], "b1": [0.0] * 4,
         "w2": [rng.gauss(0, 0.5) for _ in range(4)], "b2": 0.0}
with open(a.out, "w") as f:
    json.dump({"model": a.model, "seed": a.seed, "weights": w}, f)
print(f"initialised {a.model} seed {a.seed}")
