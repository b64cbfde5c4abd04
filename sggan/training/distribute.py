"""Where training runs: one device, several on one machine, or several machines (tf.distribute).

Keras 3's own keras.distribution API does not drive the TensorFlow backend, so the engine is
tf.distribute. `--batch_size` is the global batch: each of N replicas takes its 1/N of every batch,
losses are averaged over the global batch and gradients summed over replicas, so an update equals
the one-device update at the same global batch.
"""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import tensorflow as tf

from sggan.errors import UserError

SUM = tf.distribute.ReduceOp.SUM


def device_names(cfg):
    """--devices as a list of names: `GPU:0,GPU:1` and `GPU:0 GPU:1` both work."""
    return [name.strip() for item in cfg.get("devices") or [] for name in item.split(",") if name.strip()]


def configure_devices(cfg):
    """Split the CPU into logical devices when --devices names CPU:1 or higher (testing and
    benchmarking replicas without GPUs). Must run before TensorFlow initialises its devices."""
    numbers = [int(m.group(1)) for d in device_names(cfg) for m in [re.fullmatch(r"(?:/?device:)?CPU:(\d+)", d, re.I)] if m]
    if not numbers or max(numbers) == 0:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * (max(numbers) + 1))
    except RuntimeError:  # already initialised: the existing logical devices must do
        pass


@dataclass(frozen=True)
class RunContext:
    """Where a run happens, made once (run_context, in main) and passed down: the tf.distribute
    strategy and whether this process is the chief (the one that writes the experiment folder)."""
    strategy: tf.distribute.Strategy
    chief: bool

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync


def run_context(cfg):
    """The context of --strategy / --devices; the global batch must split evenly over its replicas."""
    strategy = make_strategy(cfg)
    return RunContext(strategy, _is_chief(strategy))


def describe_devices():
    """The console's device line (`devices: CPU (no GPU visible)`, `devices: GPU:0 (NVIDIA …), …`)
    and a warning when the machine has an NVIDIA GPU this TensorFlow cannot see (else None)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        named = [f"GPU:{i} ({tf.config.experimental.get_device_details(gpu).get('device_name', 'unnamed')})"
                 for i, gpu in enumerate(gpus)]
        return "devices: " + ", ".join(named), None
    line = "devices: CPU (no GPU visible)"
    present = machine_gpus()
    if not present:
        return line, None
    build = "a CPU-only build" if not tf.test.is_built_with_cuda() else "a build that cannot reach it (CUDA libraries?)"
    return line, (f"this machine has {', '.join(present)} but the installed TensorFlow is {build}: training "
                  "runs on the CPU; install requirements-gpu.txt to use the GPU")


def machine_gpus():
    """Names of the NVIDIA GPUs the machine has, whatever TensorFlow sees: from `nvidia-smi -L`, else
    from the driver's /proc/driver/nvidia/gpus folder."""
    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        names = [line.split(" (UUID")[0] for line in listing.splitlines() if line.startswith("GPU ")]
        if names:
            return names
    folder = "/proc/driver/nvidia/gpus"
    return [f"NVIDIA GPU {name}" for name in sorted(os.listdir(folder))] if os.path.isdir(folder) else []


def local_context():
    """One device, this process the chief: for the library (scripts, tests, the Editor)."""
    return RunContext(tf.distribute.get_strategy(), True)


def make_strategy(cfg):
    """The tf.distribute strategy named by --strategy (and --devices), checked against the batch."""
    strategy = _strategy(cfg)
    if cfg["batch_size"] % strategy.num_replicas_in_sync:
        raise UserError(f"--batch_size {cfg['batch_size']} does not split evenly over "
                        f"{strategy.num_replicas_in_sync} replicas; use a multiple of {strategy.num_replicas_in_sync}")
    return strategy


def _strategy(cfg):
    kind, devices = cfg["strategy"], device_names(cfg)
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        known = {d.name.replace("/device:", "").upper() for d in tf.config.list_logical_devices()}
        unknown = [d for d in devices or [] if d.replace("/device:", "").upper() not in known]
        if unknown:
            raise UserError(f"--devices {','.join(unknown)}: no such device here (have: {', '.join(sorted(known))})")
        return tf.distribute.MirroredStrategy(devices or None)
    if "TF_CONFIG" not in os.environ:
        raise UserError("--strategy multiworker needs TF_CONFIG describing the cluster (see README, "
                        "'Training on several GPUs or machines')")
    return tf.distribute.MultiWorkerMirroredStrategy()


def _is_chief(strategy):
    """True unless this is a non-chief worker of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


@contextlib.contextmanager
def output_folder(exp_dir, chief):
    """Where this worker writes its run's files (checkpoints, config.json, loss log, events): the
    experiment folder on the chief; a temporary one (removed afterwards) on the others, which must
    still save checkpoints because saving may need every worker."""
    if chief:
        yield exp_dir
        return
    temporary = tempfile.mkdtemp(prefix="sggan_worker_")
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def global_sum(value):
    """Σ of a per-replica value over all replicas (inside a replica function; identity on one)."""
    return tf.distribute.get_replica_context().all_reduce(SUM, value)


def replica_rows(values, rows_per_replica, groups=1):
    """This replica's rows of a tensor drawn for the whole global batch.

    `values` holds `groups` blocks of global-batch rows one after another (e.g. one block per
    generator output); the replica takes rows [r·n, (r+1)·n) of every block. Random numbers drawn
    this way on every replica from the same state equal the one-device draw, and differ between
    replicas.
    """
    context = tf.distribute.get_replica_context()
    start = context.replica_id_in_sync_group * rows_per_replica
    blocks = tf.reshape(values, tf.concat([[groups, -1], tf.shape(values)[1:]], 0))
    mine = blocks[:, start:start + rows_per_replica]
    return tf.reshape(mine, tf.concat([[-1], tf.shape(values)[1:]], 0))


def reduced(strategy, per_replica):
    """Sum a dict of per-replica scalars (each already normalised by the global batch)."""
    return {k: strategy.reduce(SUM, v, axis=None) for k, v in per_replica.items()}
