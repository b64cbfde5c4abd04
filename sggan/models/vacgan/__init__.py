"""VAC+GAN: faces generated from noise plus the 40 CelebA attributes, with a multi-label classifier
beside the critic whose error on fakes is back-propagated into the generator (Bazrafkan & Corcoran).

networks.py   generator, critic, classifier
losses.py     hinge critic loss, label-smoothed binary cross-entropy
steps.py      the training steps
evaluation.py classifier agreement, sample grids, --set parsing
runs.py       dry run, training, sampling and FID runs wired from a config

This file is the model's interface to main.py (see sggan.models).
"""
from sggan.errors import UserError

PRESET, DEMO_PRESET = "vacgan", "vacgan_demo"
EXPERIMENT_SUFFIX = "_vacgan"
MODES = ("train", "sample", "fid")
TRAINED_MODES = ()  # its networks' shape comes from the flags, not config.json
NEXT_MODES = ("sample", "fid")


def validate(cfg):
    if cfg["image_size"] % 8:
        raise UserError(f"--image_size {cfg['image_size']} cannot be taken by VAC+GAN: "
                        "it must be a multiple of 8 (three upsamplings from 1/8 size)")
    if cfg["jit"] and cfg["strategy"] != "default":
        raise UserError(f"--jit cannot be combined with --strategy {cfg['strategy']} for VAC+GAN: its batch "
                        "norm is synchronised between replicas inside the steps XLA would compile; drop --jit")


def dry_run(cfg, context):
    from sggan.models.vacgan import runs
    return runs.dry_run(cfg, context)


def run(cfg, context):
    from sggan.models.vacgan import runs
    return runs.MODES[cfg["mode"]](cfg, context)
