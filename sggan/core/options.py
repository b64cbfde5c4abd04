"""Command-line options: config.py's values, overridden by flags, checked before anything runs.

config.py holds the values; this module holds what each one means (type, allowed values,
help text) and the checks that refuse bad combinations with a one-line error.
"""
import argparse
import difflib
from dataclasses import dataclass, field

from sggan.core.errors import UserError

TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """What one config field means on the command line."""
    help: str
    type: type = None          # None: the type of the default value
    choices: tuple = None
    nargs: str = None
    flag: bool = False         # a switch: `--name` or `--name true` = True, `--name false` = False
    minimum: float = None      # smallest allowed value (numbers)
    positive: bool = False     # must be > 0
    extra: dict = field(default_factory=dict)


OPTIONS = {
    "model": Option("which model: sggan (attribute editing) or vacgan (conditional generation)"),
    "data_dir": Option("folder with list_attr_celeba.txt and the images"),
    "image_dir": Option("image folder (default: celebA/ or img_align_celeba/ under data_dir)", type=str),
    "data_format": Option("read images from a folder or from TFRecord shards (auto: shards if present)",
                          choices=("auto", "folder", "tfrecord")),
    "attributes": Option("attribute groups: NAME, or A/B for a two-way group (A = class 0, B = class 1), "
                         "each optionally followed by -C to leave images with C unlabelled",
                         nargs="+"),
    "split": Option("train/test split: lines (the original: test = images 3..4999), "
                    "partition (list_eval_partition.txt), fraction (last --test_fraction held out)",
                    choices=("lines", "partition", "fraction")),
    "test_fraction": Option("share of images held out by --split fraction", minimum=0.0),
    "sp_type": Option("sparse labelling preset of the paper: 0 all labelled, 1 = 10k/30k, 2 = 1k/3k",
                      choices=(0, 1, 2)),
    "labelled": Option("label only the first N training images (or a fraction < 1); overrides sp_type",
                       type=float, minimum=0.0),
    "labelled_pair": Option("the same for two-way groups (default: as --labelled)", type=float, minimum=0.0),
    "oversample_times": Option("append the labelled prefix of the training list this many more times",
                               minimum=0),
    "skip_missing": Option("drop listed images that are missing on disk (with a warning) instead of refusing",
                           flag=True),
    "image_size": Option("side of the square training images", positive=True),
    "ngf": Option("generator base width", positive=True),
    "ndf": Option("discriminator base width", positive=True),
    "n_blocks": Option("residual blocks in the generator", minimum=0),
    "d_layers": Option("stride-2 convolutions in the discriminator", positive=True),
    "no_sp": Option("turn spectral normalisation of the discriminator off", flag=True),
    "upsampling": Option("generator upsampling: deconv (the original's 4x4 stride-2 transposed convolution) "
                         "or resize (nearest-neighbour, then 3x3 convolution: no checkerboard)",
                         choices=("deconv", "resize")),
    "identity_init": Option("initialise each output block to copy the input image (not in the original; "
                            "the demo uses it to learn edits in minutes)", flag=True),
    "loss": Option("adversarial loss", choices=("wgan-gp", "hinge", "lsgan", "nsgan")),
    "batch_size": Option("images per batch", positive=True),
    "max_iters": Option("training iterations (generator updates)", positive=True),
    "n_critic": Option("discriminator updates per generator update", positive=True),
    "learn_rate": Option("Adam learning rate (SG-GAN: both networks; VAC+GAN: discriminator, classifier)",
                         positive=True),
    "g_learn_rate": Option("VAC+GAN generator learning rate", positive=True),
    "beta1": Option("Adam beta1", minimum=0.0),
    "beta2": Option("Adam beta2", minimum=0.0),
    "decay_start": Option("iteration after which the learning rate decays linearly (to 0.1x)", minimum=0),
    "lam_recon": Option("weight of the reconstruction loss", minimum=0.0),
    "lam_gp": Option("weight of the gradient penalty (0: none)", minimum=0.0),
    "lam_cls": Option("weight of the generator's classification loss", minimum=0.0),
    "lam_gp_cls": Option("weight of a penalty on the input gradient of the critic's class margins, on real "
                         "images (not in the original; 0: none): the critic's classifier cannot then be "
                         "satisfied by pixel speckle", minimum=0.0),
    "seed": Option("random seed (data order, flips, initial weights, penalty draws)", minimum=0),
    "deterministic": Option("bit-exact TensorFlow ops (slower)", flag=True),
    "log_every": Option("iterations between console/loss-log lines", positive=True),
    "sample_every": Option("iterations between sample grids", positive=True),
    "eval_every": Option("iterations between test accuracy checks", positive=True),
    "save_every": Option("iterations between kept checkpoints", positive=True),
    "keep": Option("most recent checkpoints kept besides the periodic ones", positive=True),
    "fresh": Option("ignore existing checkpoints and start again", flag=True),
    "test_step": Option("checkpoint iteration to restore in test mode (default: latest)", type=int, minimum=0),
    "num_test": Option("test only the first N test images", type=int, positive=True),
    "input": Option("your own photos (files or folders) for test mode", type=str, nargs="+"),
    "save_single": Option("in test mode also write each output as its own file", flag=True),
    "classifier_steps": Option("training batches (of 64) of the attribute classifier (--mode classifier)",
                               positive=True),
    "z_dim": Option("VAC+GAN noise size", positive=True),
    "set": Option("VAC+GAN sample mode: attribute settings NAME=0|1", type=str, nargs="+"),
    "fid_images": Option("images per side for --mode fid", positive=True),
}


def _parser(settings, modes):
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="SG-GAN (sparsely grouped facial attribute editing) and VAC+GAN, in TensorFlow 2. "
                    "Defaults come from config.py; every setting can be overridden here.")
    parser.add_argument("--mode", choices=modes, help="what to do (default: from OPER_FLAG in config.py)")
    parser.add_argument("--exp_dir", help="experiment folder (default: train_log_<OPER_NAME>)")
    parser.add_argument("--oper_name", help="experiment name (default: OPER_NAME in config.py)")
    parser.add_argument("--demo", action="store_true",
                        help="train/test on the bundled procedural faces with a small preset")
    parser.add_argument("--dry_run", action="store_true",
                        help="check data and config, print a JSON summary, exit")
    for name, opt in OPTIONS.items():
        default = settings.get(name)
        help_text = f"{opt.help} (default: {default})"
        if opt.flag:  # `--name false` undoes a preset's or config.py's True
            parser.add_argument(f"--{name}", nargs="?", const=True, type=_switch(name), default=None,
                                metavar="true|false", help=help_text)
            continue
        kind = opt.type or (str if isinstance(default, list) else type(default))
        parser.add_argument(f"--{name}", type=_typed(name, kind), choices=opt.choices, nargs=opt.nargs,
                            default=None, help=help_text)
    return parser


def _typed(name, kind):
    """A converter whose failure message names the flag and the expected kind."""
    def convert(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name} expects {kind.__name__}, got {text!r}")
    convert.__name__ = kind.__name__
    return convert


def _switch(name):
    """A converter for on/off settings: true/false (yes/no, on/off, 1/0)."""
    def convert(text):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise argparse.ArgumentTypeError(f"--{name} expects true or false, got {text!r}")
    convert.__name__ = "true|false"
    return convert


def _raise_user_error(message):
    raise UserError(message)


def parse_config(argv, config_module, models):
    """Merge config.py, the selected presets and the command line into one flat dict.

    `models` maps a model name to its package (sggan.models.MODELS): which presets it brings and
    how its settings are checked.
    """
    settings = dict(config_module.SETTINGS)
    modes = list(dict.fromkeys(mode for model in models.values() for mode in model.MODES))
    parser = _parser(settings, modes)
    parser.error = _raise_user_error  # one-line error, exit 2, through main.py
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        raise UserError(_unknown_flag_message(unknown[0], parser))
    given = {k: v for k, v in vars(args).items() if v is not None and k in OPTIONS}
    model_name = given.get("model", settings["model"])
    if model_name not in models:
        raise UserError(f"unknown model {model_name!r} (--model or config.py); choose one of {', '.join(models)}")
    model = models[model_name]
    presets = [name for name in (model.PRESET, model.DEMO_PRESET if args.demo else None) if name]
    for name in presets:
        settings.update(config_module.PRESETS[name])
    settings.update(given)
    settings["mode"] = args.mode or ("test" if config_module.OPER_FLAG == 1 else "train")
    if config_module.OPER_FLAG not in (0, 1):
        raise UserError(f"OPER_FLAG in config.py must be 0 (train) or 1 (test), not {config_module.OPER_FLAG!r}")
    suffix = model.EXPERIMENT_SUFFIX + ("_demo" if args.demo else "")
    oper_name = args.oper_name or config_module.OPER_NAME + suffix
    settings["oper_name"] = oper_name
    settings["exp_dir"] = args.exp_dir or f"train_log_{oper_name}"
    settings["demo"] = args.demo
    settings["dry_run"] = args.dry_run
    settings["presets"] = presets
    if settings["mode"] not in model.MODES:
        owners = [name for name, other in models.items() if settings["mode"] in other.MODES]
        raise UserError(f"--mode {settings['mode']} is not a mode of {model_name} (its modes: "
                        f"{', '.join(model.MODES)}); it belongs to --model {' / '.join(owners)}")
    validate(settings)
    model.validate(settings)
    return settings


def _unknown_flag_message(flag, parser):
    known = [opt for action in parser._actions for opt in action.option_strings]
    close = difflib.get_close_matches(flag.split("=")[0], known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see python main.py --help"
    return f"unknown option {flag}{hint}"


def validate(cfg):
    """Refuse values and combinations the program cannot use, before any work starts."""
    for name, opt in OPTIONS.items():
        value = cfg.get(name)
        if value is None or isinstance(value, (bool, list, str)):
            continue
        if opt.positive and value <= 0:
            raise UserError(f"--{name} must be positive, got {value}")
        if opt.minimum is not None and value < opt.minimum:
            raise UserError(f"--{name} must be at least {opt.minimum}, got {value}")
    if not 0.0 < cfg["test_fraction"] < 1.0:
        raise UserError(f"--test_fraction must be between 0 and 1, got {cfg['test_fraction']}")


def describe(cfg):
    """The resolved configuration as a few readable lines for the console."""
    items = [f"{k}={cfg[k]}" for k in sorted(cfg)]
    return "configuration: " + ", ".join(items)
