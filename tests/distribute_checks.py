"""Checks of training under tf.distribute, run in a process of their own by test_distribute.py:
the CPU must be split into two logical devices before TensorFlow initialises, which a pytest
process that has already used TensorFlow cannot do.

    python tests/distribute_checks.py CHECK [ARGS…]   → prints one JSON line with the results
"""
import functools
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import config  # noqa: E402
from sggan.data import attribute_groups  # noqa: E402
from sggan.training import checkpoints, distribute, precision
from sggan.models.sggan import networks  # noqa: E402
from sggan.models.sggan.outputs import output_layout  # noqa: E402
from sggan.models.sggan.steps import SGGANTask  # noqa: E402
from sggan.models.vacgan.steps import VACGANTask  # noqa: E402

distribute.configure_devices({"devices": ["CPU:0", "CPU:1"]})
TWO = ["CPU:0", "CPU:1"]
TINY = dict(image_size=16, ngf=4, ndf=4, n_blocks=1, d_layers=2, batch_size=4, n_critic=1, z_dim=8)


def tiny_cfg(model="sggan", **extra):
    cfg = {**config.SETTINGS, **(config.PRESETS["vacgan"] if model == "vacgan" else {}), **TINY, **extra}
    cfg["model"] = model
    return cfg


@functools.lru_cache(maxsize=None)
def strategy_named(name):
    """One strategy object per kind for the whole process: collective ops of two MirroredStrategy
    objects in one process can collide (as in training, a process uses one)."""
    return tf.distribute.MirroredStrategy(TWO) if name == "mirrored" else tf.distribute.get_strategy()


def sggan_task(cfg):
    groups = [attribute_groups.Group(f"group{a}", "single", (f"attribute{a}",)) for a in range(2)]
    outputs = output_layout(groups)
    keras.utils.set_random_seed(cfg["seed"])
    generator, discriminator = networks.build(cfg, outputs)
    return SGGANTask(cfg, generator, discriminator, outputs, len(groups), tf.distribute.get_strategy())


def vacgan_task(cfg):
    keras.utils.set_random_seed(cfg["seed"])
    return VACGANTask(cfg, 3, tf.distribute.get_strategy())


def batch_of(cfg, n_groups, labelled_rows, seed=7):
    """One iteration's batches [B, n_critic, ...]; only `labelled_rows` carry labels."""
    b, s, n = cfg["batch_size"], cfg["image_size"], cfg["n_critic"]
    rng = np.random.default_rng(seed)
    masks = np.zeros((b, n, n_groups), np.float32)
    masks[list(labelled_rows)] = 1.0
    return {"image": rng.uniform(-1, 1, (b, n, s, s, 3)).astype(np.float32),
            "classes": rng.integers(0, 2, (b, n, n_groups)).astype(np.int64),
            "masks": masks, "index": np.arange(b * n, dtype=np.int64).reshape(n, b).T}


def distributed(strategy, batch):
    data = tf.data.Dataset.from_tensor_slices(batch).batch(len(batch["image"]))
    return next(iter(strategy.experimental_distribute_dataset(data)))


def weights_of(task):
    return {f"{key}/{path}": v.numpy().tolist() for key, net in task.networks.items()
            for path, v in checkpoints.by_name(net).items()}


def moments_of(task):
    """Adam's moments (after one step they are the gradients themselves)."""
    return {f"{key}/{v.path.split('/', 1)[-1]}": v.numpy().tolist() for key, opt in task.optimizers.items()
            for v in opt.variables if v.shape.rank}


def iterations(model, strategy_name, labelled_rows, jit=False):
    """Iterations from the same start, one per entry of `labelled_rows` (the rows of its batch that
    carry labels): the losses of each, the weights and moments after the first, the moments after
    each later one; and the task."""
    strategy = strategy_named(strategy_name)
    results = []
    with strategy.scope():
        cfg = tiny_cfg(model, jit=jit)
        task = sggan_task(cfg) if model == "sggan" else vacgan_task(cfg)
        n_groups = task.n_groups if model == "sggan" else task.n_attributes
        for step, rows in enumerate(labelled_rows):
            batch = distributed(strategy, batch_of(cfg, n_groups, rows, seed=7 + step))
            result = {"losses": {k: float(v) for k, v in task.iteration(step, lambda: batch).items()},
                      "moments": moments_of(task)}
            if not step:  # weights moved twice differ by rounding noise amplified by Adam (see test_distribute)
                result["weights"] = weights_of(task)
            results.append(result)
    return results, task


def compare_iterations(model, labelled_rows, jit_under_mirrored=False):
    """The same iterations on one device and under MirroredStrategy over two devices (there with XLA
    when asked); the results per iteration and the two tasks."""
    one, task_one = iterations(model, "default", labelled_rows)
    two, task_two = iterations(model, "mirrored", labelled_rows, jit=jit_under_mirrored)
    return [{"default": a, "mirrored": b} for a, b in zip(one, two)], {"default": task_one, "mirrored": task_two}


def short_runs(data_dir, exp_root):
    """Short training runs as main.py makes them (one resumed): the losses they logged."""
    from sggan.app.options import parse_config
    from sggan.models import MODELS
    from tests.helpers import TINY as TINY_FLAGS
    results = {}
    # name: (max_iters, flags) of each call, in order.
    bfloat16 = ["--precision", "mixed_bfloat16"]
    runs = {"sggan_bfloat16_jit": [(1, bfloat16), (2, [*bfloat16, "--jit"])],
            "vacgan_mirrored": [(2, ["--model", "vacgan", "--strategy", "mirrored", "--devices", "CPU:0,CPU:1",
                                     "--z_dim", "8"])]}
    for name, calls in runs.items():
        exp = os.path.join(exp_root, name)
        # bfloat16: one iteration, then resumed with XLA for a second (the checkpoint does not depend
        # on --jit). The mirrored run takes its two iterations at once (resuming across strategies:
        # checkpoint_round_trip).
        for max_iters, flags in calls:
            argv = ["--data_dir", data_dir, "--exp_dir", exp, *TINY_FLAGS, "--sample_every", "100000",
                    "--eval_every", "100000", "--max_iters", str(max_iters), *flags]
            cfg = parse_config(argv, config, MODELS)
            keras.utils.set_random_seed(cfg["seed"])
            strategy = strategy_named(cfg["strategy"])
            with precision.policy(cfg["precision"]), strategy.scope():
                assert MODELS[cfg["model"]].run(cfg, distribute.RunContext(strategy, chief=True)) == 0
        rows = [json.loads(line) for line in open(os.path.join(exp, "losses.jsonl"))]
        results[name] = [r for r in rows if "g_adversarial" in r]
    return results


def alpha_rows():
    """The rows of one global draw that each replica takes (replica_rows)."""
    strategy = strategy_named("mirrored")
    values = tf.range(8.0)

    @tf.function
    def run():
        return strategy.run(lambda: distribute.replica_rows(values, 2, groups=2))
    return [t.numpy().tolist() for t in strategy.experimental_local_results(run())]


def checkpoint_round_trip(task, save_under, restore_under, directory):
    """Save a trained task's state under one strategy, restore it into a fresh task under the other."""
    with strategy_named(save_under).scope():
        saver = checkpoints.Checkpoints(directory, 2, {**task.networks, **task.optimizers}, task.state)
        saver.step.assign(1)
        path = saver.save()
        before = {k: v.numpy() for k, v in checkpoints.by_name(task.discriminator).items()}
        draw = float(tf.reduce_sum(task.rng.uniform([3])))
    with strategy_named(restore_under).scope():
        fresh = sggan_task(tiny_cfg(seed=99))
        loader = checkpoints.Checkpoints(directory, 2, {**fresh.networks, **fresh.optimizers}, fresh.state)
        loader.restore_step(1)
        after = {k: v.numpy() for k, v in checkpoints.by_name(fresh.discriminator).items()}
        same_draw = float(tf.reduce_sum(fresh.rng.uniform([3]))) == draw
    return {"path": os.path.basename(path), "equal": all(np.array_equal(before[k], after[k]) for k in before),
            "same_draw": same_draw}


def float16_overflow():
    """A step whose gradients overflow float16: the weights stay, the loss scale halves."""
    with precision.policy("mixed_float16"):
        cfg = tiny_cfg(precision="mixed_float16")
        task = sggan_task(cfg)
        batch = distributed(tf.distribute.get_strategy(), batch_of(cfg, task.n_groups, range(4)))
        task.iteration(0, lambda: batch)  # builds everything
        before = [v.numpy() for v in task.discriminator.trainable_variables]
        scale = float(task.d_optimizer.dynamic_scale.numpy())
        task.d_optimizer.dynamic_scale.assign(1e30)  # any loss times this overflows float16's gradients
        losses = {k: float(v) for k, v in task.iteration(1, lambda: batch).items()}
        after = [v.numpy() for v in task.discriminator.trainable_variables]
        return {"scale_before": 1e30, "scale_after": float(task.d_optimizer.dynamic_scale.numpy()),
                "first_scale": scale, "unchanged": all(np.array_equal(a, b) for a, b in zip(before, after)),
                "skipped_updates": losses.get("skipped_updates")}


def everything(data_dir, directory):
    """All checks in one process (TensorFlow starts once). SG-GAN's mirrored side runs with XLA
    (--jit), so the comparison also covers the compiled steps under a strategy."""
    sggan, sggan_tasks = compare_iterations("sggan", [[0, 1], [0, 2, 3]], jit_under_mirrored=True)
    vacgan, _ = compare_iterations("vacgan", [[0, 1]])
    return {"sggan": sggan[0], "sggan_uneven": sggan[1], "vacgan": vacgan[0],
            "alpha_rows": alpha_rows(),
            "to_default": checkpoint_round_trip(sggan_tasks["mirrored"], "mirrored", "default",
                                                os.path.join(directory, "a")),
            "to_mirrored": checkpoint_round_trip(sggan_tasks["default"], "default", "mirrored",
                                                 os.path.join(directory, "b")),
            "float16_overflow": float16_overflow(), "runs": short_runs(data_dir, directory)}


CHECKS = {"everything": everything, "runs": short_runs, "float16_overflow": float16_overflow,
          "compare": lambda model: compare_iterations(model, [[0, 1]])[0]}

if __name__ == "__main__":
    print(json.dumps(CHECKS[sys.argv[1]](*sys.argv[2:])))
