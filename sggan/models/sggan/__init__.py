"""SG-GAN: one generator edits a face into every (group, class) output at once; a critic with one
classification head per attribute group; WGAN-GP; sparse labels.

networks.py  generator (trunk + one head per output) and critic
outputs.py   which output edits which group towards which class, and its reconstruction partner
losses.py    adversarial losses, gradient penalty, masked classification, L1
steps.py     the training steps (critic, generator) and the learning-rate schedule
evaluation.py sample grids, the critic's accuracy, test-mode metrics
classifier.py the independent attribute classifier that judges the edits (--mode classifier)
judge.py     its figures for the edits: success, preservation, L1, PSNR, collapse
editor.py    the generator as a SavedModel and the Editor API (--mode export, --input photos)
runs.py      dry run, training, test, classifier, FID and export runs wired from a config

This file is the model's interface to main.py (see sggan.models); the TensorFlow parts are
imported only when a run starts, so that --help and bad flags answer at once.
"""
from sggan.errors import UserError

PRESET, DEMO_PRESET = None, "demo"
EXPERIMENT_SUFFIX = ""
MODES = ("train", "test", "fid", "classifier", "export")
TRAINED_MODES = ("test", "fid", "export")  # they read the experiment's config.json
NEXT_MODES = ("classifier", "test", "export")  # after training: the judge, then the edits, then the Editor


def validate(cfg):
    """Image sizes the generator and the critic can take."""
    size, layers = cfg["image_size"], cfg["d_layers"]
    if size % 4:
        raise UserError(f"--image_size {size} cannot be taken by the generator: it must be a multiple of 4 "
                        "(two stride-2 down- and upsamplings)")
    if size % (2 ** layers):
        raise UserError(f"--image_size {size} cannot be taken by a discriminator of --d_layers {layers}: "
                        f"it must be a multiple of {2 ** layers}; use a size such as "
                        f"{max(1, round(size / 2 ** layers)) * 2 ** layers} or fewer --d_layers")


def dry_run(cfg, context):
    from sggan.models.sggan import runs
    return runs.dry_run(cfg, context)


def run(cfg, context):
    from sggan.models.sggan import runs
    return runs.MODES[cfg["mode"]](cfg, context)
