"""Fixtures: small CelebA-shaped data made by the tests themselves, a tiny config, and one tiny
trained experiment shared by the tests that only read it (helpers.py holds the rest)."""
import os

from sggan.app import startup  # noqa: E402 (imports no TensorFlow)

startup.quiet_environment(verbose=False)  # TensorFlow's settings, as main.py makes them
if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest.ini runs two worker processes on the two cores; one op thread each avoids their thread
    # pools fighting over the cores (the networks are tiny, so an op gains nothing from more).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import pytest  # noqa: E402

from sggan.data import demo_faces  # noqa: E402
from tests.helpers import TINY, Experiment, made_once, make_cfg, run  # noqa: E402


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """160 procedural faces in the CelebA layout (train 128 / val 16 / test 16)."""
    return made_once(tmp_path_factory, "faces", lambda path: demo_faces.generate(path, count=160, seed=3))


@pytest.fixture
def tiny_cfg(demo_dir, tmp_path):
    """A function giving a tiny, valid SG-GAN config on the demo faces, with extra flags."""
    def build(*extra):
        return make_cfg("--data_dir", demo_dir, "--exp_dir", tmp_path / "exp", *TINY, *extra)
    return build


@pytest.fixture(scope="session")
def trained(demo_dir, tmp_path_factory):
    """One tiny SG-GAN experiment trained once for the session (by one worker): 4 iterations,
    checkpoints 2 and 4, sample grids and accuracy checks at 0 and 2. Read it; change only a copy
    (trained.copy). Test mode writes its test/ folder into it: those tests sit in one file, which
    pytest.ini's --dist loadfile keeps on one worker."""
    return Experiment(demo_dir, made_once(tmp_path_factory, "trained",
                                          lambda path: run(*Experiment(demo_dir, path).argv())))
