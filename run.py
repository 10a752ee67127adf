"""Entry point: `python run.py [overrides]`, or `python run.py -m ...` for a sweep.

Composes conf/ with Hydra and hands each job to `mfh.runner.run`. A bad config value stops
with a one-line error naming the key and what is allowed (exit code 2).
"""

import sys

import hydra
from omegaconf import DictConfig

from mfh.config import ConfigError, check_group_overrides
from mfh.data import DatasetUnavailable
from mfh.runner import run


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except (ConfigError, DatasetUnavailable) as err:
        fail(str(err))


if __name__ == "__main__":
    try:
        check_group_overrides(sys.argv[1:])
    except ConfigError as err:
        fail(str(err))
    main()
