/** Files written by `corral init`. */
export const INIT_FILES: Record<string, string> = {
  "corral.yaml": `# Corral project: see docs/configuration.md
name: my-experiment
command: python3 train.py

config_dir: conf
defaults:
  - model: small
  - _self_

config:
  lr: 0.01
  epochs: 5
  seed: 0

# corral run -m  runs this grid (first key varies slowest);
# corral run -m model=small,large  also sweeps the model group (conf/model/*.yaml)
sweep:
  lr: [0.1, 0.01]
  seed: range(2)

resources:
  cpus: 1

launcher:
  type: local

profiles:
  debug:
    overrides: [epochs=1]
    launcher: {jobs: 1}
  cluster:
    launcher: {type: slurm, partition: gpu, time: 1h, per_job: 4, parallel: 2, gpus: 1}
`,
  "conf/model/small.yaml": "hidden: 8\nlayers: 1\n",
  "conf/model/large.yaml": "hidden: 32\nlayers: 2\n",
  "train.py": `"""A small real training script (Python standard library only): a tanh MLP classifier on a
synthetic two-moons data set, trained with plain SGD.

Corral writes each run's resolved config (the model group included) to $CORRAL_CONFIG and
gives its folder in $CORRAL_RUN_DIR; one JSON line per epoch goes to metrics.jsonl there, and
the last value of each key is the run's result (corral results --best val_acc).
"""
import json, math, os, random, sys

DEFAULTS = {"lr": 0.01, "epochs": 5, "seed": 0, "model": {"hidden": 8, "layers": 1}}


def parse(v):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None}.get(v.lower(), v.strip("'\\""))


def load_config():
    """The run's config.yaml (nested maps of scalars), else key=value arguments, over DEFAULTS."""
    cfg = json.loads(json.dumps(DEFAULTS))
    path = os.environ.get("CORRAL_CONFIG")
    if path and os.path.exists(path):
        stack = [(-1, cfg)]
        for line in open(path):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            indent = len(line) - len(line.lstrip())
            key, _, value = line.strip().partition(":")
            # A key YAML would read as something else is quoted ("n": 3, "on": true).
            key = key.strip().strip("'\\"")
            while stack[-1][0] >= indent:
                stack.pop()
            parent = stack[-1][1]
            if value.strip():
                parent[key] = parse(value.strip())
            else:
                parent[key] = parent.get(key) if isinstance(parent.get(key), dict) else {}
                stack.append((indent, parent[key]))
    else:
        for arg in sys.argv[1:]:
            key, _, value = arg.lstrip("+").partition("=")
            *parents, last = key.split(".")
            node = cfg
            for k in parents:
                node = node.setdefault(k, {})
            node[last] = parse(value)
    return cfg


def two_moons(n, rng):
    pts = []
    for i in range(n):
        t = math.pi * rng.random()
        x, y = (math.cos(t), math.sin(t)) if i % 2 == 0 else (1 - math.cos(t), 0.5 - math.sin(t))
        pts.append(([x + rng.gauss(0, 0.2), y + rng.gauss(0, 0.2)], i % 2))
    return pts


cfg = load_config()
rng = random.Random(int(cfg["seed"]))
sizes = [2] + [int(cfg["model"]["hidden"])] * int(cfg["model"]["layers"]) + [1]
W = [[[rng.gauss(0, 1 / math.sqrt(a)) for _ in range(a)] for _ in range(b)] for a, b in zip(sizes, sizes[1:])]
B = [[0.0] * b for b in sizes[1:]]


def forward(x):
    acts = [x]
    for k, (w, b) in enumerate(zip(W, B)):
        z = [sum(wi * xi for wi, xi in zip(row, acts[-1])) + bj for row, bj in zip(w, b)]
        acts.append([1 / (1 + math.exp(-max(-30.0, min(30.0, v)))) for v in z] if k == len(W) - 1 else [math.tanh(v) for v in z])
    return acts


def step(x, y, lr):
    acts = forward(x)
    p = acts[-1][0]
    delta = [p - y]
    for k in range(len(W) - 1, -1, -1):
        prev = acts[k]
        back = [sum(W[k][j][i] * d for j, d in enumerate(delta)) * (1 - prev[i] ** 2) for i in range(len(prev))] if k else []
        for j, d in enumerate(delta):
            for i, v in enumerate(prev):
                W[k][j][i] -= lr * d * v
            B[k][j] -= lr * d
        delta = back
    return -math.log(max(p if y else 1 - p, 1e-12))


data = two_moons(200, rng)
train, val = data[:160], data[160:]
out = open(os.path.join(os.environ.get("CORRAL_RUN_DIR", "."), "metrics.jsonl"), "a")
for epoch in range(int(cfg["epochs"])):
    rng.shuffle(train)
    loss = sum(step(x, y, float(cfg["lr"])) for x, y in train) / len(train)
    val_acc = sum((forward(x)[-1][0] > 0.5) == bool(y) for x, y in val) / len(val)
    out.write(json.dumps({"epoch": epoch, "loss": round(loss, 5), "val_acc": round(val_acc, 4)}) + "\\n")
    out.flush()
print(f"model {sizes[1:-1]} lr={cfg['lr']} seed={cfg['seed']}: loss {loss:.4f}, val_acc {val_acc:.3f}")
`,
};
