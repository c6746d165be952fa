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

# corral run -m  runs this grid (first key varies slowest)
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
  "conf/model/small.yaml": "hidden: 16\nlayers: 2\n",
  "conf/model/large.yaml": "hidden: 64\nlayers: 4\n",
  "train.py": `"""A tiny training script: reads key=value overrides, appends metrics to $CORRAL_RUN_DIR/metrics.jsonl."""
import json, os, sys

args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
lr, epochs = float(args.get("lr", 0.01)), int(args.get("epochs", 5))
out = open(os.path.join(os.environ.get("CORRAL_RUN_DIR", "."), "metrics.jsonl"), "a")
loss = 1.0
for epoch in range(epochs):
    loss *= 1 - min(lr, 0.5)
    out.write(json.dumps({"epoch": epoch, "loss": loss}) + "\\n")
    out.flush()
print("final loss", loss)
`,
};
