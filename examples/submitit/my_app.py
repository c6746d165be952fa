"""A Hydra app run with the hydra-submitit-launcher presets in conf/setup/."""
import json
import os
import time

import hydra


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg):
    start = time.time()
    time.sleep(1)  # the work
    print(json.dumps({"config": str(cfg), "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""), "on": os.environ.get("TRAINING_ON", ""), "job": os.environ.get("SLURM_JOB_ID", ""), "start": start, "end": time.time()}))


if __name__ == "__main__":
    main()
