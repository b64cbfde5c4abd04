"""SG-GAN / VAC+GAN entry point: `python main.py` trains, OPER_FLAG = 1 in config.py (or --mode test)
tests. Reads config.py, applies command-line overrides, and hands over to the chosen model.

Exit status: 0 done (or stopped on request after saving), 1 internal error (the traceback is in a
crash report file), 2 bad input or a problem the user can fix (`error: …`), 130 interrupted by
Ctrl-C or SIGTERM outside the training loop (which stops gracefully and saves instead).
"""
import json
import os
import sys

from sggan.app import crash, startup
from sggan.errors import UserError, warn
from sggan.app.lock import ExperimentLock
from sggan.app.options import check_paths, describe, load_config_file, next_commands, parse_config
from sggan.models import MODELS

CONFIG_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")


def main(argv, config_module=None):
    """Parse, then run the chosen model and mode; returns the exit status (errors raise)."""
    verbose = "--verbose" in argv
    startup.quiet_environment(verbose)
    config_module = config_module or load_config_file(CONFIG_PATH)
    cfg = parse_config(argv, config_module, MODELS)
    check_paths(cfg, MODELS[cfg["model"]])
    with crash.reported(cfg["exp_dir"]):
        # imported after parsing so that --help and bad flags answer at once
        tf = startup.import_tensorflow(verbose)
        from sggan.training import distribute, precision

        distribute.configure_devices(cfg)  # before anything initialises TensorFlow's devices
        tf.keras.utils.set_random_seed(cfg["seed"])
        if cfg["deterministic"]:
            tf.config.experimental.enable_op_determinism()
        model = MODELS[cfg["model"]]
        context = distribute.run_context(cfg)
        devices, unseen_gpu = distribute.describe_devices()
        if unseen_gpu:
            warn(unseen_gpu)
        if not cfg["dry_run"]:  # a dry run's stdout is its JSON alone, which names them
            print(devices, flush=True)
        if cfg["mode"] == "train" and not cfg["dry_run"]:
            print(describe(cfg), flush=True)
        with precision.policy(cfg["precision"]), context.strategy.scope():
            if cfg["dry_run"]:
                summary = model.dry_run(cfg, context)
                print(json.dumps({**summary, "devices": devices.split(": ", 1)[1]}))
                return 0
            if cfg["mode"] != "train" or not context.chief:
                return model.run(cfg, context)  # the other workers of a cluster write nothing there (loop.py)
            with ExperimentLock(cfg["exp_dir"]):
                status = model.run(cfg, context)
            if status == 0 and _finished(cfg):
                script = os.path.relpath(os.path.abspath(__file__))
                print("next:\n" + "\n".join(f"  {command}" for command in
                                            next_commands(script, argv, cfg, model.NEXT_MODES)), flush=True)
            return status


def _finished(cfg):
    """Whether the experiment holds the checkpoint of its last iteration (not a stopped run's)."""
    from sggan.training import checkpoints
    steps = [step for step, _ in checkpoints.saved(os.path.join(cfg["exp_dir"], "checkpoints"))]
    return bool(steps) and steps[-1] >= cfg["max_iters"]


def run(argv):
    """main() with every way of failing turned into a message and an exit status."""
    startup.interrupt_on_sigterm()
    try:
        with crash.reported():
            return main(argv)
    except UserError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    except crash.InternalError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; every file already written is complete (each is written whole or not "
              "at all); checkpoints already saved are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    if "--verbose" not in sys.argv:
        startup.drop_native_logs()  # a process of its own: its stderr is not shared
    sys.exit(run(sys.argv[1:]))
