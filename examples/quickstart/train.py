"""A tiny but real training script (Python standard library only).

It reads Hydra-style `key=value` overrides from argv (and the fully resolved config from
$CORRAL_CONFIG when Corral runs it), trains a logistic-regression or one-hidden-layer MLP
classifier on a synthetic two-moons data set with plain SGD, and appends one JSON object per
epoch to $CORRAL_RUN_DIR/metrics.jsonl: the last value of each key is the run's result.
"""
import json
import math
import os
import random
import sys


def load_config():
    cfg = {"model": {"kind": "linear", "hidden": 0}, "lr": 0.1, "epochs": 30, "seed": 0, "data": {"n": 400, "noise": 0.3}}
    path = os.environ.get("CORRAL_CONFIG")
    if path and os.path.exists(path):
        # config.yaml as written by Corral is simple YAML; JSON-compatible parsing keeps this stdlib-only.
        cfg = parse_simple_yaml(open(path).read())
    else:
        for arg in sys.argv[1:]:
            key, _, value = arg.lstrip("+").partition("=")
            set_path(cfg, key, parse_value(value))
    return cfg


def parse_value(v):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None}.get(v.lower(), v)


def set_path(cfg, key, value):
    parts = key.split(".")
    for p in parts[:-1]:
        cfg = cfg.setdefault(p, {})
    cfg[parts[-1]] = value


def parse_simple_yaml(text):
    root, stack = {}, [(-1, None)]
    stack[0] = (-1, root)
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        key, _, value = line.strip().partition(":")
        # A key YAML would read as something else is quoted ("n": 400, "on": true).
        key = key.strip().strip("'\"")
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value.strip() == "":
            parent[key] = {}
            stack.append((indent, parent[key]))
        else:
            parent[key] = parse_value(value.strip().strip("'\""))
    return root


def two_moons(n, noise, rng):
    pts = []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), 0
        else:
            x, y, label = 1 - math.cos(t), 0.5 - math.sin(t), 1
        pts.append(((x + rng.gauss(0, noise), y + rng.gauss(0, noise)), label))
    return pts


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-30, min(30, z))))


class Model:
    def __init__(self, hidden, rng):
        self.hidden = hidden
        if hidden:
            self.w1 = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(hidden)]
            self.b1 = [0.0] * hidden
            self.w2 = [rng.gauss(0, 1 / math.sqrt(hidden)) for _ in range(hidden)]
        else:
            self.w2 = [rng.gauss(0, 1), rng.gauss(0, 1)]
        self.b2 = 0.0

    def features(self, x):
        if not self.hidden:
            return list(x)
        return [math.tanh(w[0] * x[0] + w[1] * x[1] + b) for w, b in zip(self.w1, self.b1)]

    def predict(self, x):
        h = self.features(x)
        return sigmoid(sum(w * v for w, v in zip(self.w2, h)) + self.b2), h

    def step(self, x, y, lr):
        p, h = self.predict(x)
        g = p - y
        if self.hidden:
            for j in range(self.hidden):
                gh = g * self.w2[j] * (1 - h[j] ** 2)
                self.w1[j][0] -= lr * gh * x[0]
                self.w1[j][1] -= lr * gh * x[1]
                self.b1[j] -= lr * gh
        for j in range(len(self.w2)):
            self.w2[j] -= lr * g * h[j]
        self.b2 -= lr * g
        return -(y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12))


def main():
    cfg = load_config()
    rng = random.Random(int(cfg["seed"]))
    data = two_moons(int(cfg["data"]["n"]), float(cfg["data"]["noise"]), rng)
    split = int(len(data) * 0.8)
    train, val = data[:split], data[split:]
    model = Model(int(cfg["model"]["hidden"]), rng)
    out = open(os.path.join(os.environ.get("CORRAL_RUN_DIR", "."), "metrics.jsonl"), "a")
    for epoch in range(int(cfg["epochs"])):
        rng.shuffle(train)
        loss = sum(model.step(x, y, float(cfg["lr"])) for x, y in train) / len(train)
        acc = sum((model.predict(x)[0] > 0.5) == y for x, y in val) / len(val)
        out.write(json.dumps({"epoch": epoch, "train_loss": round(loss, 5), "val_acc": round(acc, 4)}) + "\n")
        out.flush()
    print(f"{cfg['model']['kind']} lr={cfg['lr']} seed={cfg['seed']}: val_acc={acc:.3f}")


if __name__ == "__main__":
    main()
