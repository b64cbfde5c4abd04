"""Benchmark: seconds per training iteration and images/second, for float32 / bfloat16, XLA on and
off, one device and two (on a CPU-only machine: the CPU split into two logical devices), beside this
machine's float32 convolution throughput.

    python scripts/bench_model.py [--model sggan|vacgan] [--presets demo,paper64,paper]
        [--variants float32,bfloat16,jit,jit+bfloat16] [--devices 1,2] [--iters 2] [--profile]

One iteration = n_critic critic updates on fresh batches + the generator update(s), as in training,
as one compiled call. Each configuration runs in a fresh process (devices must be set before
TensorFlow starts), gets one warm-up iteration (tracing) and then --iters timed ones, on random
images (the input pipeline is benchmarked by bench_input.py). The float32 one-device row also
counts the iteration's floating-point operations from its traced graph and reads the speed as a
fraction of the convolution throughput the machine reaches on one large convolution, measured in
the same process just before and after the timed iterations (this machine's speed drifts).
--profile traces one iteration with the TensorFlow profiler and sums op time by part of the model.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sggan.app import startup  # noqa: E402

startup.quiet_environment(verbose=False)  # TensorFlow's settings, before it loads

from sggan.errors import UserError  # noqa: E402 (imports no TensorFlow)

PRESETS = {
    "sggan": {"paper": {}, "paper64": {"image_size": 64, "d_layers": 5}, "demo": "demo"},
    "vacgan": {"paper": "vacgan", "demo": "vacgan_demo"},
}
VARIANTS = {"float32": ("float32", False), "bfloat16": ("mixed_bfloat16", False),
            "jit": ("float32", True), "jit+bfloat16": ("mixed_bfloat16", True)}


def settings(model, preset):
    """config.py's settings, the model's own preset (as main.py applies it), then the benchmarked one."""
    import config
    from sggan.models import MODELS
    cfg = dict(config.SETTINGS, model=model)
    if MODELS[model].PRESET:
        cfg.update(config.PRESETS[MODELS[model].PRESET])
    chosen = PRESETS[model][preset]
    cfg.update(config.PRESETS[chosen] if isinstance(chosen, str) else chosen)
    return cfg


def hardware():
    """What the figures were measured on."""
    import tensorflow as tf
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPU cores ({cpu}), GPUs: {', '.join(gpus) or 'none'}, TensorFlow {tf.__version__}, "
            f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, load average {load:.1f} at start")


def conv_throughput(seconds=5.0):
    """GFLOP/s of one large float32 3x3 convolution, forward, on this machine."""
    import tensorflow as tf
    x = tf.random.normal((8, 64, 64, 256))
    w = tf.random.normal((3, 3, 256, 256))
    step = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))
    step().numpy()
    flops = 2 * 8 * 64 * 64 * 256 * 256 * 9
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step().numpy()
        count += 1
    return flops * count / (time.perf_counter() - start) / 1e9


def graph_flops(function, *args):
    """Floating-point operations of one call of a tf.function, from its traced graph."""
    import tensorflow as tf
    graph = function.get_concrete_function(*args).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def sggan_task(cfg, strategy):
    """SG-GAN with the original's four single groups; (task, label columns)."""
    from sggan.data import attribute_groups
    from sggan.models.sggan import networks
    from sggan.models.sggan.outputs import output_layout
    from sggan.models.sggan.steps import SGGANTask
    groups = [attribute_groups.Group(f"group{a}", "single", (f"attribute{a}",)) for a in range(4)]
    outputs = output_layout(groups)
    generator, discriminator = networks.build(cfg, outputs)
    return SGGANTask(cfg, generator, discriminator, outputs, len(groups), strategy), len(groups)


def vacgan_task(cfg, strategy):
    """VAC+GAN conditioned on the 40 CelebA attributes; (task, label columns)."""
    from sggan.models.vacgan.steps import VACGANTask
    return VACGANTask(cfg, 40, strategy), 40


TASKS = {"sggan": sggan_task, "vacgan": vacgan_task}


def make_task(cfg, strategy):
    """The model's task on random data: (task, a distributed iteration batch)."""
    import tensorflow as tf
    b, s, n = cfg["batch_size"], cfg["image_size"], cfg["n_critic"]
    task, n_labels = TASKS[cfg["model"]](cfg, strategy)
    batch = {"image": tf.random.uniform((b, n, s, s, 3), -1, 1), "classes": tf.zeros((b, n, n_labels), tf.int64),
             "masks": tf.ones((b, n, n_labels)), "index": tf.zeros((b, n), tf.int64)}
    data = tf.data.Dataset.from_tensor_slices(batch).batch(b)
    return task, next(iter(strategy.experimental_distribute_dataset(data)))


def measure(model, preset, variant, devices, iters, profile_dir=None):
    """One configuration, in this (fresh) process: a dict of results."""
    import tensorflow as tf
    from sggan.training import distribute, precision
    from sggan.models import MODELS
    names = [f"CPU:{i}" for i in range(devices)] if not tf.config.list_physical_devices("GPU") else \
        [f"GPU:{i}" for i in range(devices)]
    policy, jit = VARIANTS[variant]
    cfg = dict(settings(model, preset), precision=policy, jit=jit, devices=names if devices > 1 else None,
               strategy="mirrored" if devices > 1 else "default")
    MODELS[model].validate(cfg)  # the model's own refusals, as main.py applies them
    distribute.configure_devices(cfg)
    context = distribute.run_context(cfg)
    with precision.policy(policy), context.strategy.scope():
        task, batch = make_task(cfg, context.strategy)
        losses = task.iteration(0, lambda: batch)  # warm-up: traces and compiles
        float(next(iter(losses.values())))
        counted = variant == "float32" and devices == 1
        peaks = [conv_throughput()] if counted else []
        start = time.perf_counter()
        for step in range(iters):
            losses = task.iteration(step, lambda: batch)
        finite = all(map(lambda v: bool(tf.math.is_finite(v)), losses.values()))
        seconds = (time.perf_counter() - start) / iters
        result = {"model": model, "preset": preset, "variant": variant, "devices": devices,
                  "size": cfg["image_size"], "batch": cfg["batch_size"], "seconds": seconds,
                  "images_per_s": cfg["batch_size"] / seconds, "finite": finite}
        if counted:  # the machine's speed drifts: its reference is measured just before and after
            result["peaks"] = peaks + [conv_throughput()]
            result["gflop"] = graph_flops(task.train_iteration, batch) / 1e9
        if profile_dir:
            result["profile"] = profile(task, batch, profile_dir)
    return result


def profile(task, batch, directory):
    """Trace one iteration; op time (ms, summed over threads) by part of the model."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    tf.profiler.experimental.start(directory)
    float(next(iter(task.iteration(1, lambda: batch).values())))
    tf.profiler.experimental.stop()
    paths = [os.path.join(d, f) for d, _, files in os.walk(directory) for f in files if f.endswith(".xplane.pb")]
    space = xplane_pb2.XSpace()
    with open(max(paths, key=os.path.getmtime), "rb") as f:
        space.ParseFromString(f.read())
    totals = {}
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or "::" in name or ": " in name:
                    continue  # only TensorFlow ops ("scope/name:Type"), not the calls around them
                part = part_of(name)
                totals[part] = totals.get(part, 0.0) + event.duration_ps / 1e9
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def part_of(op):
    """Which part of the model an op (`scope/name:Type`) belongs to, from its name scopes."""
    name, kind = op.rsplit(":", 1)
    scopes = [re.sub(r"_\d+$", "", scope) for scope in name.split("/")[:-1]]
    if "gradient_penalty" in scopes:
        return "gradient penalty (critic forward, backward and double backward on the mixed images)"
    if any("norm" in scope for scope in scopes):
        return "instance / batch norm"
    if any(scope in ("up", "shared_up") for scope in scopes):
        return "transposed convolutions"
    if "Conv2D" in kind or "BiasAdd" in kind or "gathered_taps" in scopes:
        return "convolutions"
    if scopes and re.fullmatch(r"(conv\d+|classifier\d+|adversarial)", scopes[-1]) or "l2_normalize" in scopes:
        return "spectral norm (power iteration, kernel / sigma)"
    if "Adam" in kind or any(s.startswith(("adam", "loss_scale")) for s in scopes):
        return "optimiser updates"
    return "other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sggan", choices=PRESETS)
    parser.add_argument("--presets", default="demo,paper64")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--devices", default="1,2")
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="also profile the float32 one-device run")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # preset,variant,devices: measure in this process
    args = parser.parse_args()
    if args.one:
        preset, variant, devices = args.one.split(",")
        directory = os.path.join("/tmp", f"bench_profile_{os.getpid()}") if args.profile else None
        try:
            print(json.dumps(measure(args.model, preset, variant, int(devices), args.iters, directory)))
        except UserError as refusal:
            print(json.dumps({"refused": str(refusal)}))
        return
    print(f"machine: {hardware()}")
    print(f"float32 convolution throughput: {conv_throughput():.1f} GFLOP/s", flush=True)
    for preset in args.presets.split(","):
        for devices in map(int, args.devices.split(",")):
            for variant in args.variants.split(","):
                profiled = args.profile and variant == "float32" and devices == 1
                command = [sys.executable, os.path.abspath(__file__), "--model", args.model, "--iters",
                           str(args.iters), "--one", f"{preset},{variant},{devices}"] + (["--profile"] if profiled else [])
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode:
                    print(f"{preset} {variant} {devices} device(s): failed: {done.stderr.strip().splitlines()[-1:]}")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                if "refused" in r:
                    print(f"{args.model} {preset} {variant} {devices} device(s): refused: {r['refused']}", flush=True)
                    continue
                line = (f"{args.model} {preset:8s} {r['size']}x{r['size']} batch {r['batch']:3d} {variant:13s} "
                        f"{devices} device(s): {r['seconds']:8.3f} s/iteration, {r['images_per_s']:8.2f} images/s"
                        f"{'' if r['finite'] else ' (NON-FINITE LOSSES)'}")
                if "gflop" in r:
                    achieved, around = r["gflop"] / r["seconds"], sum(r["peaks"]) / len(r["peaks"])
                    line += (f"; {r['gflop']:.1f} GFLOP/iteration = {achieved:.1f} GFLOP/s, "
                             f"{100 * achieved / around:.0f}% of the convolution throughput measured just before "
                             f"and after ({r['peaks'][0]:.1f}, {r['peaks'][1]:.1f} GFLOP/s)")
                print(line, flush=True)
                if "profile" in r:
                    total = sum(r["profile"].values())
                    print("  op time by part (ms, summed over threads): " + ", ".join(
                        f"{k} {v:.0f} ({100 * v / total:.0f}%)" for k, v in r["profile"].items()), flush=True)


if __name__ == "__main__":
    main()
