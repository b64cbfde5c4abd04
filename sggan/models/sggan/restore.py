"""A trained SG-GAN read back from its experiment folder alone: config.json and a checkpoint.

No training data, no optimisers, no training loop: test mode on photos, --mode export and the
Editor work on a machine that never saw the data. (Test mode on the test split, FID and the
classifier still read the data.)
"""
import json
import os
from dataclasses import dataclass

from sggan.data import datasets
from sggan.errors import UserError, warn
from sggan.models.sggan import networks
from sggan.models.sggan.data import labelling
from sggan.models.sggan.outputs import groups_from_record, output_layout
from sggan.training import checkpoints as ckpt

# Fields that fix the networks and how they are used: test mode takes them from config.json.
MODEL_FIELDS = ("attributes", "image_size", "ngf", "ndf", "n_blocks", "d_layers", "no_sp", "identity_init",
                "upsampling", "landmark_template", "group_classes")
# Fields added after the first release, with what an older experiment meant (None: CelebA's
# template; the group classes read from the data).
LATER_FIELDS = {"upsampling": "deconv", "landmark_template": None, "group_classes": None}


@dataclass
class Restored:
    """A trained generator and critic with what they were trained for."""
    cfg: dict             # the run's settings with the experiment's model fields
    generator: object
    discriminator: object
    groups: list          # outputs.GroupShape or attribute_groups.Group per attribute group
    outputs: list         # outputs.Output per generator output
    checkpoint: str       # the path restored
    step: int             # its iteration


def read_config(exp_dir):
    """The experiment's config.json as a dict, or a one-line error saying what is wrong."""
    path = os.path.join(exp_dir, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"no trained experiment in {exp_dir} (looked for {path}); train first "
                        "or point --exp_dir / --oper_name at one")
    try:
        with open(path) as f:
            trained = json.load(f)
    except (ValueError, UnicodeDecodeError) as problem:
        raise UserError(f"{path} is damaged ({problem}); restore it: it records the network settings "
                        "the checkpoints were trained with")
    if not isinstance(trained, dict):
        raise UserError(f"{path} is not a settings record; was it written by this program?")
    trained = {**LATER_FIELDS, **trained}  # experiments older than a field had its default
    lacking = [k for k in MODEL_FIELDS if k not in trained]
    if lacking:
        raise UserError(f"{path} lacks {', '.join(lacking)}; was it written by this program?")
    return trained


def trained_config(cfg):
    """cfg with the model fields of the experiment in cfg['exp_dir'] (a warning names those that differ)."""
    trained = read_config(cfg["exp_dir"])
    if trained["landmark_template"] is None:  # an experiment from before templates: the user's, else CelebA's
        trained["landmark_template"] = cfg.get("landmark_template")
    changed = [k for k in MODEL_FIELDS if cfg.get(k) is not None and trained[k] != cfg.get(k)]
    if changed:
        warn(f"using the trained model's {', '.join(changed)} from {os.path.join(cfg['exp_dir'], 'config.json')}")
    return {**cfg, **{k: trained[k] for k in MODEL_FIELDS}}


def restore(cfg, context):
    """The experiment's networks at --test_step (else its latest readable checkpoint)."""
    cfg = trained_config(cfg)
    if cfg["group_classes"] is not None:
        groups = groups_from_record(cfg["group_classes"])
    else:  # an experiment from before the record: the class names come from the data
        groups = datasets.prepare(cfg, labelling, check_images=False).groups
    outputs = output_layout(groups)
    with context.strategy.scope():
        generator, discriminator = networks.build(cfg, outputs)
    checkpoints = ckpt.Checkpoints(os.path.join(cfg["exp_dir"], "checkpoints"), cfg["keep"],
                                   {"generator": generator, "discriminator": discriminator}, {})
    path = checkpoints.restore_for_use(cfg["test_step"])
    return Restored(cfg, generator, discriminator, groups, outputs, path, int(checkpoints.step.numpy()))


def restore_generator(exp_dir, step=None, context=None):
    """The generator of an experiment folder (by iteration `step`, else the latest) for use from
    Python: `restore_generator("train_log_x").generator(images)`; a Restored."""
    from sggan.training.distribute import local_context
    cfg = {**read_config(exp_dir), "exp_dir": exp_dir, "test_step": step}
    return restore(cfg, context or local_context())
