"""Benchmark: seconds per SG-GAN training iteration and images/second, beside this machine's float32
convolution throughput measured in the same run.

    python scripts/bench_model.py [--presets paper,paper64,demo] [--iters 2] [--compare_onednn]

One iteration = n_critic (5) critic updates on fresh batches + 1 generator update, as in training.
Each preset gets one warm-up iteration (tracing) and then --iters timed ones, on random images (the
input pipeline is benchmarked separately by bench_input.py). The work of one iteration is counted
in floating-point operations from the traced graphs, so the speed also reads as a fraction of the
convolution throughput the machine reaches on one large convolution.
"""
import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tensorflow as tf  # noqa: E402

import config  # noqa: E402
from sggan.core import celeba  # noqa: E402
from sggan.models.sggan import networks  # noqa: E402
from sggan.models.sggan.outputs import output_layout  # noqa: E402
from sggan.models.sggan.steps import SGGANTask  # noqa: E402

PRESETS = {
    "paper": {},
    "paper64": {"image_size": 64, "d_layers": 5},
    "demo": config.PRESETS["demo"],
}


def conv_throughput(seconds=5.0):
    """GFLOP/s of one large float32 3x3 convolution, forward, on this machine."""
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
    graph = function.get_concrete_function(*args).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def bench(name, iters):
    cfg = dict(config.SETTINGS)
    cfg.update(PRESETS[name])
    groups = [celeba.Group(f"group{a}", "single", (f"attribute{a}",)) for a in range(4)]
    outputs = output_layout(groups)
    generator, discriminator = networks.build(cfg, outputs)
    task = SGGANTask(cfg, generator, discriminator, outputs, len(groups))
    b, s = cfg["batch_size"], cfg["image_size"]
    images = tf.random.uniform((b, s, s, 3), -1, 1)
    classes, masks = tf.zeros((b, 4), tf.int32), tf.ones((b, 4))
    batch = {"image": images, "classes": classes, "masks": masks}
    task.iteration(0, lambda: batch)  # warm-up: traces both steps
    start = time.perf_counter()
    for step in range(iters):
        losses = task.iteration(step, lambda: batch)
    float(losses["g_loss"])
    seconds = (time.perf_counter() - start) / iters
    flops = cfg["n_critic"] * graph_flops(task.train_d, images, classes, masks) + graph_flops(task.train_g, images)
    return cfg, seconds, flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="paper,paper64,demo")
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--compare_onednn", action="store_true",
                        help="also run the first preset with TF_ENABLE_ONEDNN_OPTS=0 and =1 in fresh processes")
    args = parser.parse_args()
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    peak = conv_throughput()
    print(f"machine: {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, TF_ENABLE_ONEDNN_OPTS={onednn}")
    print(f"float32 convolution throughput: {peak:.1f} GFLOP/s")
    for name in args.presets.split(","):
        cfg, seconds, flops = bench(name, args.iters)
        achieved = flops / seconds / 1e9
        print(f"{name:8s} {cfg['image_size']}x{cfg['image_size']} batch {cfg['batch_size']} ngf {cfg['ngf']} "
              f"ndf {cfg['ndf']}: {seconds:8.2f} s/iteration, {cfg['batch_size'] / seconds:7.2f} images/s "
              f"(generator updates), {flops / 1e9:8.1f} GFLOP/iteration = {achieved:.1f} GFLOP/s, "
              f"{100 * achieved / peak:.0f}% of the convolution throughput", flush=True)
    if args.compare_onednn:
        first = args.presets.split(",")[0]
        for value in ("0", "1"):
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=value)
            subprocess.run([sys.executable, os.path.abspath(__file__), "--presets", first, "--iters",
                            str(args.iters)], env=env, check=True)


if __name__ == "__main__":
    main()
