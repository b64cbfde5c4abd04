"""Training under tf.distribute on two logical CPU devices, mixed precision and XLA.

The checks run once, in a process of their own (tests/distribute_checks.py): the CPU must be split
into two devices before TensorFlow starts. Each test below asserts one part of their results.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import ROOT

# Biases of layers followed by instance or batch norm have a gradient of exactly zero in theory; in
# practice rounding noise (~1e-9), which Adam (epsilon 1e-7) turns into steps of ~1e-6 whose size
# depends on the summation order. They are compared more loosely.
BEFORE_NORM = ("enc1/bias", "enc2/bias", "enc3/bias", "conv0/bias", "conv1/bias", "conv2/bias", "conv3/bias",
               "up/bias", "shared_up/bias", "dense2/bias")


@pytest.fixture(scope="module")
def results(demo_dir, tmp_path_factory):
    directory = tmp_path_factory.mktemp("distribute")
    # Both cores for the two logical devices: not the one-thread limit of a pytest worker (conftest).
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "distribute_checks.py"), "everything",
                           demo_dir, str(directory)], capture_output=True, text=True, cwd=ROOT, timeout=1800,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def before_norm(path):
    return any(bias in path or f"{bias.replace('/', '_')}_" in path for bias in BEFORE_NORM)


def assert_same_update(one, two, learning_rate, gradient_tolerance=1e-5):
    """Same losses, same weights after one Adam step, same first moments (the gradients).

    gradient_tolerance is relative to each tensor's largest entry: 1e-5 for SG-GAN; VAC+GAN's
    synchronised batch norm computes the variance as E[x^2] - E[x]^2 over both replicas, whose
    cancellation leaves ~1e-4 in a few entries.
    """
    for key, value in one["losses"].items():
        np.testing.assert_allclose(two["losses"][key], value, rtol=1e-5, err_msg=key)
    for path, value in one.get("weights", {}).items():
        # Adam's first step is ±learning rate wherever the gradient is well above epsilon: compare to
        # 10% of a step. A pre-norm bias moves by rounding noise, any amount up to one step.
        atol = (1.01 if before_norm(path) else 0.1) * learning_rate
        np.testing.assert_allclose(two["weights"][path], value, rtol=1e-5, atol=atol, err_msg=path)
    for path, value in one["moments"].items():  # such as g_optimizer/generator_enc1_kernel_momentum
        if not before_norm(path):
            np.testing.assert_allclose(two["moments"][path], value, rtol=1e-5,
                                       atol=gradient_tolerance * np.abs(value).max(), err_msg=path)


@pytest.mark.parametrize("batch", ["sggan", "sggan_uneven"])
def test_sggan_iteration_under_mirrored_equals_one_device(results, batch):
    """Two iterations, the mirrored side compiled with XLA (--jit). In the first, the labelled images
    all sit on replica 0 (sggan); in the second, one on replica 0 and two on replica 1 (sggan_uneven:
    a mask sum normalised per replica would differ). After the second, losses and Adam's moments
    are compared (the weights, moved twice, differ by Adam-amplified rounding noise in pre-norm biases)."""
    assert_same_update(results[batch]["default"], results[batch]["mirrored"], 1e-4)


def test_vacgan_iteration_under_mirrored_equals_one_device(results):
    assert_same_update(results["vacgan"]["default"], results["vacgan"]["mirrored"], 2e-4, 1e-4)


def test_penalty_draws_differ_between_replicas(results):
    """Each replica takes its own rows of the global draw (per output block), none shared."""
    first, second = results["alpha_rows"]
    assert first == [0.0, 1.0, 4.0, 5.0] and second == [2.0, 3.0, 6.0, 7.0]


@pytest.mark.parametrize("direction", ["to_default", "to_mirrored"])
def test_checkpoint_restores_across_strategies(results, direction):
    assert results[direction]["equal"] and results[direction]["same_draw"]


def test_float16_overflow_is_skipped_and_lowers_the_scale(results):
    outcome = results["float16_overflow"]
    assert outcome["unchanged"]
    assert outcome["scale_after"] == pytest.approx(outcome["scale_before"] / 2)
    assert outcome["skipped_updates"] >= 1


@pytest.mark.parametrize("run", ["sggan_bfloat16_jit", "vacgan_mirrored"])
def test_short_runs_give_finite_losses_and_resume(results, run):
    rows = results["runs"][run]
    assert [r["step"] for r in rows] == [0, 1]  # one iteration, then one more after resuming (mirrored: at once)
    assert all(math.isfinite(v) for r in rows for v in r.values())


def test_device_line_names_the_cpu_and_warns_of_an_unseen_gpu(monkeypatch):
    from sggan.training import distribute
    monkeypatch.setattr(distribute, "machine_gpus", lambda: [])
    assert distribute.describe_devices() == ("devices: CPU (no GPU visible)", None)
    monkeypatch.setattr(distribute, "machine_gpus", lambda: ["GPU 0: NVIDIA A100-SXM4-40GB"])
    line, warning = distribute.describe_devices()
    assert line == "devices: CPU (no GPU visible)"
    assert "GPU 0: NVIDIA A100-SXM4-40GB" in warning and "requirements-gpu.txt" in warning
