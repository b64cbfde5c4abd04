"""What the tests share besides fixtures: tiny configurations, running main.py, experiment folders."""
import fcntl
import os
import shutil
import subprocess
import sys

import config
import main
from sggan.app.options import parse_config
from sggan.models import MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A network small enough to train a few iterations in seconds on 2 CPU cores. Building the compiled
# iteration, not running it, is what costs: one critic update per iteration (not five) halves that.
TINY = ["--image_size", "16", "--ngf", "4", "--ndf", "4", "--n_blocks", "1", "--d_layers", "2",
        "--batch_size", "4", "--n_critic", "1", "--split", "partition", "--log_every", "2", "--sample_every", "2",
        "--eval_every", "2", "--save_every", "2"]
# For runs whose test is not about sample grids or accuracy checks: those hooks run only at step 0.
QUIET = ["--sample_every", "100000", "--eval_every", "100000"]
# The shared experiment: 4 iterations, bit-exact ops (test_training compares a resumed run with it),
# two groups (a binary one and the original's hair pair): a quarter less to trace than four.
SHARED_GROUPS = ["--attributes", "Male", "Black_Hair/Blond_Hair-Brown_Hair"]
SHARED = [*TINY, *SHARED_GROUPS, "--deterministic", "--max_iters", "4"]

# A bound, not a speed requirement: a run takes about 15 s here, but other jobs sharing the CPU can
# slow TensorFlow's import several-fold; a hang would exceed any bound.
BOUND_SECONDS = 120


def run_main(*argv, timeout=BOUND_SECONDS, script=None):
    """`python main.py ARGV` (or another script) in a new process, from the repository root."""
    return subprocess.run([sys.executable, script or os.path.join(ROOT, "main.py"), *map(str, argv)],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def copy_data(demo_dir, tmp_path):
    """A private copy of the demo data that a test may damage."""
    return shutil.copytree(demo_dir, tmp_path / "faces")


def only_error_line(result, *fragments):
    """stderr is exactly one `error: …` line (no TensorFlow chatter, no traceback), exit status 2."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def made_once(tmp_path_factory, name, make):
    """`make(path)` run by the first pytest-xdist worker to ask, under a file lock; the others reuse
    its result (the workers of one session share the parent of their temporary folders)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = str(root / name)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path + ".done"):
            make(path)
            open(path + ".done", "w").close()
    return path


def make_cfg(*argv, module=config):
    return parse_config([str(a) for a in argv], module, MODELS)


def run(*argv):
    """main.main in-process (seeds set as a real run sets them); asserts it reports success.

    main.main may turn on TensorFlow's op determinism for the rest of the session (--deterministic);
    no test relies on it being off.
    """
    assert main.main([str(a) for a in argv]) == 0


IGNORE_TEST_OUTPUT = shutil.ignore_patterns("test")


class Experiment:
    """A trained experiment folder and the flags that made it."""

    def __init__(self, data_dir, exp_dir):
        self.data_dir, self.exp_dir = data_dir, str(exp_dir)

    def argv(self, *extra):
        return ["--data_dir", self.data_dir, "--exp_dir", self.exp_dir, *SHARED, *map(str, extra)]

    def cfg(self, *extra):
        return make_cfg(*self.argv(*extra))

    def copy(self, target):
        """A copy to change (resume, corrupt, --fresh) without touching the shared one; without the
        test/ folder, which test mode may be writing into on the other worker."""
        return Experiment(self.data_dir, shutil.copytree(self.exp_dir, target, ignore=IGNORE_TEST_OUTPUT))

    def rewound_copy(self, target, step):
        """A copy as a run stopped at `step` would have left it: the later checkpoints are gone (the
        loss log still holds the later lines, which resuming must drop)."""
        copied = shutil.copytree(self.exp_dir, target, ignore=IGNORE_TEST_OUTPUT)
        return Experiment(self.data_dir, rewind(copied, step))


def rewind(exp_dir, step):
    """Delete an experiment's checkpoints after `step` and index the rest, as if it had stopped there
    (the checkpoint a run saves periodically and the one it saves when it stops are the same save)."""
    import tensorflow as tf
    from sggan.training import checkpoints
    folder = os.path.join(exp_dir, "checkpoints")
    for saved_step, path in checkpoints.saved(folder):
        if saved_step > step:
            for name in os.listdir(folder):
                if name.startswith(os.path.basename(path) + "."):
                    os.remove(os.path.join(folder, name))
    kept = [path for _, path in checkpoints.saved(folder)]
    tf.compat.v1.train.update_checkpoint_state(folder, kept[-1], all_model_checkpoint_paths=kept)
    return str(exp_dir)


def classifier_report_by_hand(cfg):
    """Check the classifier.json of cfg's experiment against a count by hand: every test image
    decoded on its own and classified one at a time; per group the accuracy, each class's recall
    and their mean (the balanced accuracy) recomputed in plain Python."""
    import json

    import numpy as np
    import pytest
    import tensorflow as tf
    from sggan.data import datasets, pipeline
    from sggan.models.sggan import classifier
    from sggan.models.sggan.data import TRANSFORM, labelling
    report = json.load(open(os.path.join(cfg["exp_dir"], "classifier.json")))
    ds = datasets.prepare(cfg, labelling)
    model = classifier.load(cfg["exp_dir"], [g.n_classes for g in ds.groups])
    predicted = [model.predict_classes(pipeline.load_image(tf.io.read_file(os.path.join(ds.image_dir, name)),
                                                           cfg["image_size"], TRANSFORM)[None])[0]
                 for name in ds.test.files]
    for a, group in enumerate(ds.groups):
        pairs = [(int(p[a]), int(c)) for p, c, m in zip(predicted, ds.test.classes[:, a], ds.test.masks[:, a]) if m]
        assert report["accuracy"][group.spec] == pytest.approx(sum(p == c for p, c in pairs) / len(pairs))
        recalls = {}
        for k, name in enumerate(group.class_names):
            of_k = [p for p, c in pairs if c == k]
            recalls[name] = sum(p == k for p in of_k) / len(of_k) if of_k else None
        assert sorted(report["per_class_accuracy"][group.spec]) == sorted(group.class_names)  # JSON keys sorted
        for name, value in recalls.items():
            got = report["per_class_accuracy"][group.spec][name]
            assert (got is None or np.isnan(got)) if value is None else got == pytest.approx(value)
        known = [v for v in recalls.values() if v is not None]
        assert report["balanced_accuracy"][group.spec] == pytest.approx(sum(known) / len(known))
    return report
