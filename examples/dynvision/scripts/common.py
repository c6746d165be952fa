"""Shared helpers of the example's scripts: standard library only, deterministic outputs."""
import argparse
import json
import os
import random


def parser(description):
    p = argparse.ArgumentParser(description=description)
    # Model arguments as DynVision encodes them in file names (":rctype=full+tsteps=20").
    p.add_argument("--rctype", default="none")
    p.add_argument("--tsteps", type=int, default=1)
    return p


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, value):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")


def rng(*parts):
    return random.Random("/".join(str(p) for p in parts))


def log_metric(**values):
    """Append one line to the run's metrics file when Corral runs the job (no-op otherwise)."""
    run_dir = os.environ.get("CORRAL_RUN_DIR")
    if run_dir:
        with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(values) + "\n")
