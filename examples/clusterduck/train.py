"""A Hydra app as clusterduck's example writes one: it reads its composed config and works."""
import json
import os
import time

import hydra


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg):
    start = time.time()
    time.sleep(2)  # the work
    print(json.dumps({"config": str(cfg), "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""), "start": start, "end": time.time()}))


if __name__ == "__main__":
    main()
