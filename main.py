"""SG-GAN / VAC+GAN entry point: `python main.py` trains, OPER_FLAG = 1 in config.py (or --mode test)
tests. Reads config.py, applies command-line overrides, and hands over to the chosen model."""
import json
import os
import sys

# TensorFlow's oneDNN kernels are twice as fast on x86 CPUs but not on by default on every CPU
# (see README, "Speed"); a user's own setting wins. Set before TensorFlow is imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import config  # noqa: E402
from sggan.core.errors import UserError  # noqa: E402
from sggan.core.options import parse_config  # noqa: E402
from sggan.models import MODELS  # noqa: E402


def main(argv):
    cfg = parse_config(argv, config, MODELS)
    import tensorflow as tf  # imported after parsing so that --help and bad flags answer at once

    tf.keras.utils.set_random_seed(cfg["seed"])
    if cfg["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    model = MODELS[cfg["model"]]
    if cfg["dry_run"]:
        print(json.dumps(model.dry_run(cfg)))
        return 0
    return model.run(cfg)


def cli(argv):
    """main() with bad input reported as one `error: …` line on stderr; returns the exit status."""
    try:
        return main(argv)
    except UserError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
