"""A toy training run for a search: a quadratic bowl in x and y (best at x=1, y=-2), with an
optimizer choice, logging its loss per step to $CORRAL_RUN_DIR/metrics.jsonl as a real training
loop would. On SIGTERM (ASHA pruning it, or a cancel) it stops at once: a real run would save a
checkpoint there."""
import json
import os
import signal
import sys
import time

args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
x = float(args.get("x", 0))
y = float(args.get("y", 0))
opt = args.get("opt", "adam")
steps = int(args.get("steps", 27))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

final = (x - 1) ** 2 + (y + 2) ** 2 + (0.0 if opt == "adam" else 0.5)
metrics = os.path.join(os.environ.get("CORRAL_RUN_DIR", "."), "metrics.jsonl")
for step in range(1, steps + 1):
    # The loss falls towards `final` as training goes on.
    loss = final + 10.0 / step
    with open(metrics, "a") as f:
        f.write(json.dumps({"step": step, "loss": loss}) + "\n")
    time.sleep(0.05)
