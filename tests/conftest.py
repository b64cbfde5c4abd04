"""Shared fixtures: small CelebA-shaped data made by the tests themselves, and tiny configs."""
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import config  # noqa: E402
from sggan.core import demo_faces  # noqa: E402
from sggan.core.options import parse_config  # noqa: E402
from sggan.models import MODELS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A network small enough to train a few iterations in seconds on 2 CPU cores.
TINY = ["--image_size", "16", "--ngf", "4", "--ndf", "4", "--n_blocks", "1", "--d_layers", "2",
        "--batch_size", "4", "--split", "partition", "--log_every", "2", "--sample_every", "2",
        "--eval_every", "2", "--save_every", "2"]


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """160 procedural faces in the CelebA layout (train 128 / val 16 / test 16)."""
    return demo_faces.generate(str(tmp_path_factory.mktemp("data") / "faces"), count=160, seed=3)


def make_cfg(*argv, module=config):
    return parse_config([str(a) for a in argv], module, MODELS)


@pytest.fixture
def tiny_cfg(demo_dir, tmp_path):
    """A function giving a tiny, valid SG-GAN config on the demo faces, with extra flags."""
    def build(*extra):
        return make_cfg("--data_dir", demo_dir, "--exp_dir", tmp_path / "exp", *TINY, *extra)
    return build
