"""Command-line options: config.py's values, overridden by flags, checked before anything runs.

config.py holds the values; this module holds what each one means (type, allowed values,
help text) and the checks that refuse bad combinations with a one-line error.
"""
import argparse
import difflib
import importlib.util
import math
import os
import traceback
from dataclasses import dataclass

from sggan.core.errors import UserError

TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """What one config field means: its type, allowed values and help text.

    config.py's values and the command line's are checked against the same description.
    """
    help: str
    type: type                 # int, float, str or bool (a switch); a list of them with nargs="+"
    choices: tuple = None
    nargs: str = None          # "+": a list of values
    optional: bool = False     # None allowed (meaning "not set")
    minimum: float = None      # smallest allowed value (numbers)
    below: float = None        # values must be smaller than this (numbers)
    maximum: float = None      # largest allowed value (numbers)
    positive: bool = False     # must be > 0

    @property
    def flag(self):
        """A switch: `--name` or `--name true` = True, `--name false` = False."""
        return self.type is bool


# TensorFlow, NumPy and Python's random module all take seeds below 2**32.
SEED_LIMIT = 2 ** 32 - 1

OPTIONS = {
    "model": Option("which model: sggan (attribute editing) or vacgan (conditional generation)", str),
    "data_dir": Option("folder with list_attr_celeba.txt and the images", str),
    "image_dir": Option("image folder (default: celebA/ or img_align_celeba/ under data_dir)", str, optional=True),
    "data_format": Option("read images from a folder or from TFRecord shards (auto: shards if present)", str,
                          choices=("auto", "folder", "tfrecord")),
    "attributes": Option("attribute groups: NAME, A/B (A = class 0, B = class 1), A/B/C… (class i: exactly "
                         "the i-th name set), each optionally followed by -C to leave images with C "
                         "unlabelled; or NAME=BINS on a numeric label, e.g. age=0-19,20-39,40-",
                         str, nargs="+"),
    "split": Option("train/test split: lines (the original: test = images 3..4999), "
                    "partition (list_eval_partition.txt), fraction (last --test_fraction held out), "
                    "all (train on every image, test list = every image; VAC+GAN's original)", str,
                    choices=("lines", "partition", "fraction", "all")),
    "test_fraction": Option("share of images held out by --split fraction", float, positive=True, below=1.0),
    "sp_type": Option("sparse labelling preset of the paper: 0 all labelled, 1 = 10k/30k, 2 = 1k/3k", int,
                      choices=(0, 1, 2)),
    "labelled": Option("label only the first N training images (or a fraction < 1); overrides sp_type",
                       float, optional=True, minimum=0.0),
    "labelled_pair": Option("the same for two-way groups (default: as --labelled)", float, optional=True,
                            minimum=0.0),
    "oversample_times": Option("append the labelled prefix of the training list this many more times", int,
                               minimum=0),
    "skip_missing": Option("drop listed images that are missing on disk (with a warning) instead of refusing",
                           bool),
    "image_size": Option("side of the square training images", int, positive=True),
    "ngf": Option("generator base width", int, positive=True),
    "ndf": Option("discriminator base width", int, positive=True),
    "n_blocks": Option("residual blocks in the generator", int, minimum=0),
    "d_layers": Option("stride-2 convolutions in the discriminator", int, positive=True),
    "no_sp": Option("turn spectral normalisation of the discriminator off", bool),
    "upsampling": Option("generator upsampling: deconv (the original's 4x4 stride-2 transposed convolution) "
                         "or resize (nearest-neighbour, then 3x3 convolution: no checkerboard)", str,
                         choices=("deconv", "resize")),
    "identity_init": Option("initialise each output block to copy the input image (not in the original; "
                            "the demo uses it to learn edits in minutes)", bool),
    "loss": Option("adversarial loss", str, choices=("wgan-gp", "hinge", "lsgan", "nsgan")),
    "batch_size": Option("images per batch", int, positive=True),
    "max_iters": Option("training iterations (generator updates)", int, positive=True),
    "n_critic": Option("discriminator updates per generator update", int, positive=True),
    "learn_rate": Option("Adam learning rate (SG-GAN: both networks; VAC+GAN: discriminator, classifier)",
                         float, positive=True),
    "g_learn_rate": Option("VAC+GAN generator learning rate", float, positive=True),
    "beta1": Option("Adam beta1, in [0, 1)", float, minimum=0.0, below=1.0),
    "beta2": Option("Adam beta2, in [0, 1)", float, minimum=0.0, below=1.0),
    "decay_start": Option("iteration after which the learning rate decays linearly (to 0.1x)", int, minimum=0),
    "lam_recon": Option("weight of the reconstruction loss", float, minimum=0.0),
    "lam_gp": Option("weight of the gradient penalty (0: none)", float, minimum=0.0),
    "lam_cls": Option("weight of the generator's classification loss", float, minimum=0.0),
    "lam_gp_cls": Option("weight of a penalty on the input gradient of the critic's class margins, on real "
                         "images (not in the original; 0: none): the critic's classifier cannot then be "
                         "satisfied by pixel speckle", float, minimum=0.0),
    "lam_id": Option("weight of an identity loss (not in the original; 0: none): each output whose target "
                     "is a labelled input's own class in its group should return that input (mean L1)",
                     float, minimum=0.0),
    "lam_cycle": Option("weight of a cycle loss (not in the original; 0: none): an input's edit by another "
                        "output of a group, edited back by the output of the input's own (labelled) class, "
                        "should give the input (mean L1; StarGAN's cycle on the partner pairs)",
                        float, minimum=0.0),
    "lam_keep": Option("weight of a keep-the-other-groups loss (not in the original; 0: none): the critic's "
                       "classifier should put every output in the input's labelled class of each group the "
                       "output does not edit (masked cross-entropy, as StarGAN's full target label)",
                       float, minimum=0.0),
    "critic_noise": Option("standard deviation of Gaussian noise added to the real and generated images "
                           "the critic sees (which ones: --critic_noise_to), images in [-1, 1] (not in the "
                           "original; 0: none): its classifier then judges a smoothed image, which pixel "
                           "speckle cannot move",
                           float, minimum=0.0),
    "critic_noise_to": Option("what --critic_noise reaches: all (every critic input) or classifier (only the "
                              "images its class heads judge: the adversarial head and the penalty see clean "
                              "images, so they still see speckle)", str, choices=("all", "classifier")),
    "seed": Option("random seed (data order, flips, initial weights, penalty draws)", int, minimum=0,
                   maximum=SEED_LIMIT),
    "deterministic": Option("bit-exact TensorFlow ops (slower)", bool),
    "strategy": Option("where to train: one device, several on this machine (all GPUs or --devices), "
                       "or several machines (TF_CONFIG); --batch_size stays the global batch", str,
                       choices=("default", "mirrored", "multiworker")),
    "devices": Option("devices for --strategy mirrored, comma-separated (GPU:0,GPU:1; CPU:0,CPU:1 splits "
                      "the CPU into logical devices)", str, nargs="+", optional=True),
    "precision": Option("arithmetic: float32, or mixed float16 (loss-scaled) / bfloat16 with float32 weights",
                        str, choices=("float32", "mixed_float16", "mixed_bfloat16")),
    "jit": Option("compile the training steps with XLA", bool),
    "log_every": Option("iterations between console/loss-log lines", int, positive=True),
    "sample_every": Option("iterations between sample grids", int, positive=True),
    "eval_every": Option("iterations between test accuracy checks", int, positive=True),
    "save_every": Option("iterations between kept checkpoints", int, positive=True),
    "keep": Option("most recent checkpoints kept besides the periodic ones", int, positive=True),
    "fresh": Option("ignore existing checkpoints and start again", bool),
    "test_step": Option("checkpoint iteration to restore in test mode (default: latest)", int, optional=True,
                        minimum=0),
    "num_test": Option("test only the first N test images", int, optional=True, positive=True),
    "input": Option("your own photos (files or folders) for test mode", str, nargs="+", optional=True),
    "save_single": Option("in test mode also write each output as its own file", bool),
    "align": Option("--input photos: find every face (MTCNN), align it like CelebA and paste its edits back "
                    "into the full photo; false: use each photo's centre square as it is", bool),
    "classifier_steps": Option("training batches (of 64) of the attribute classifier (--mode classifier)",
                               int, positive=True),
    "z_dim": Option("VAC+GAN noise size", int, positive=True),
    "set": Option("VAC+GAN sample mode: attribute settings NAME=0|1", str, nargs="+", optional=True),
    "fid_images": Option("images per side for --mode fid", int, positive=True),
    "fid_real": Option("VAC+GAN's real FID images: random (drawn at random, seeded, from the whole set: "
                       "the original's protocol) or test (the first --fid_images test images)", str,
                       choices=("random", "test")),
}


def _parser(settings, modes, presets):
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="SG-GAN (sparsely grouped facial attribute editing) and VAC+GAN, in TensorFlow 2. "
                    "Defaults come from config.py; every setting can be overridden here.")
    parser.add_argument("--mode", choices=modes, help="what to do (default: from OPER_FLAG in config.py)")
    parser.add_argument("--exp_dir", help="experiment folder (default: train_log_<OPER_NAME>)")
    parser.add_argument("--oper_name", help="experiment name (default: OPER_NAME in config.py)")
    parser.add_argument("--demo", action="store_true",
                        help="train/test on the bundled procedural faces with a small preset")
    parser.add_argument("--preset", choices=presets,
                        help="apply one of config.py's PRESETS (e.g. utkface_age); flags still win")
    parser.add_argument("--dry_run", action="store_true",
                        help="check data and config, print a JSON summary, exit")
    parser.add_argument("--verbose", action="store_true",
                        help="let TensorFlow's own log messages through (hidden by default)")
    for name, opt in OPTIONS.items():
        default = settings.get(name)
        help_text = f"{opt.help} (default: {default})"
        if opt.flag:  # `--name false` undoes a preset's or config.py's True
            parser.add_argument(f"--{name}", nargs="?", const=True, type=_switch(name), default=None,
                                metavar="true|false", help=help_text)
            continue
        parser.add_argument(f"--{name}", type=_typed(name, opt.type), choices=opt.choices, nargs=opt.nargs,
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


def load_config_file(path):
    """Run config.py as a module; a syntax error or a failing line is a one-line error with the line."""
    if not os.path.isfile(path):
        raise UserError(f"{path} is missing: it holds the settings (restore it from the repository)")
    spec = importlib.util.spec_from_file_location("config", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as problem:
        text = (problem.text or "").strip()
        raise UserError(f"{path} line {problem.lineno}: {problem.msg}" + (f": {text[:80]}" if text else ""))
    except Exception as problem:  # any error while config.py runs is the user's to fix
        line = _failing_line(problem, path)
        raise UserError(f"{path}{line}: {type(problem).__name__}: {problem}")
    return module


def _failing_line(problem, path):
    """ ' line N' of the last config.py line in the error's traceback ('' when there is none)."""
    frames = [f for f in traceback.extract_tb(problem.__traceback__)
              if os.path.abspath(f.filename) == os.path.abspath(path)]
    return f" line {frames[-1].lineno}" if frames else ""


def check_config_module(module):
    """config.py checked as strictly as the command line: names, keys, types and ranges."""
    for name, kind in (("SETTINGS", dict), ("PRESETS", dict), ("OPER_NAME", str)):
        if not isinstance(getattr(module, name, None), kind):
            raise UserError(f"config.py must define {name} as a {kind.__name__}")
    flag = getattr(module, "OPER_FLAG", None)
    if flag not in (0, 1) or isinstance(flag, bool):
        raise UserError(f"OPER_FLAG in config.py must be 0 (train) or 1 (test), not {flag!r}")
    settings = module.SETTINGS
    _refuse_unknown(settings, "config.py SETTINGS")
    missing = [name for name in OPTIONS if name not in settings]
    if missing:
        raise UserError(f"config.py SETTINGS lacks {', '.join(repr(m) for m in missing)}; "
                        "add them (see python main.py --help for their meaning)")
    for name, value in settings.items():
        check_value(name, value, f"config.py SETTINGS[{name!r}]")
    for preset, values in module.PRESETS.items():
        where = f"config.py PRESETS[{preset!r}]"
        if not isinstance(values, dict):
            raise UserError(f"{where} must be a dict of settings")
        _refuse_unknown(values, where)
        for name, value in values.items():
            check_value(name, value, f"{where}[{name!r}]")


def _refuse_unknown(settings, where):
    unknown = [name for name in settings if name not in OPTIONS]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), list(OPTIONS), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise UserError(f"{where} has unknown setting(s) {', '.join(hints)}")


def check_value(name, value, where):
    """Refuse a value of the wrong type, outside its choices or its range; `where` names its source."""
    opt = OPTIONS[name]
    if value is None:
        if opt.optional:
            return
        raise UserError(f"{where} must be set (None is not allowed)")
    if opt.nargs:
        if not isinstance(value, (list, tuple)) or not value:
            raise UserError(f"{where} must be a non-empty list of {opt.type.__name__}, got {value!r}")
        for item in value:
            _check_scalar(opt, item, where)
        return
    _check_scalar(opt, value, where)


def _check_scalar(opt, value, where):
    kinds = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}[opt.type]
    if not isinstance(value, kinds) or (opt.type is not bool and isinstance(value, bool)):
        expected = {bool: "True or False", int: "an integer", float: "a number", str: "a string"}[opt.type]
        raise UserError(f"{where} expects {expected}, got {value!r} ({type(value).__name__})")
    if opt.choices is not None and value not in opt.choices:
        raise UserError(f"{where} must be one of {', '.join(map(str, opt.choices))}, got {value!r}")
    if opt.type in (int, float):
        _check_range(opt, value, where)


def _check_range(opt, value, where):
    if not math.isfinite(value):
        raise UserError(f"{where} must be a finite number, got {value}")
    if opt.positive and value <= 0:
        raise UserError(f"{where} must be positive, got {value}")
    if opt.minimum is not None and value < opt.minimum:
        raise UserError(f"{where} must be at least {opt.minimum}, got {value}")
    if opt.maximum is not None and value > opt.maximum:
        raise UserError(f"{where} must be at most {opt.maximum}, got {value}")
    if opt.below is not None and value >= opt.below:
        raise UserError(f"{where} must be below {opt.below}, got {value}")


def parse_config(argv, config_module, models):
    """Merge config.py, the selected presets and the command line into one flat dict.

    `models` maps a model name to its package (sggan.models.MODELS): which presets it brings and
    how its settings are checked.
    """
    check_config_module(config_module)
    settings = dict(config_module.SETTINGS)
    modes = list(dict.fromkeys(mode for model in models.values() for mode in model.MODES))
    parser = _parser(settings, modes, sorted(config_module.PRESETS))
    parser.error = _raise_user_error  # one-line error, exit 2, through main.py
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        raise UserError(_unknown_flag_message(unknown[0], parser))
    given = {k: v for k, v in vars(args).items() if v is not None and k in OPTIONS}
    model_name = given.get("model", settings["model"])
    if model_name not in models:
        raise UserError(f"unknown model {model_name!r} (--model or config.py); choose one of {', '.join(models)}")
    model = models[model_name]
    if args.demo and args.preset:
        raise UserError("--demo brings its own preset; use either --demo or --preset")
    presets = [name for name in (model.PRESET, args.preset, model.DEMO_PRESET if args.demo else None) if name]
    for name in presets:
        if name not in config_module.PRESETS:
            raise UserError(f"config.py PRESETS lacks {name!r}, which {model_name} needs")
        settings.update(config_module.PRESETS[name])
    settings.update(given)
    settings["mode"] = args.mode or ("test" if config_module.OPER_FLAG == 1 else "train")
    suffix = model.EXPERIMENT_SUFFIX + ("_demo" if args.demo else "") + (f"_{args.preset}" if args.preset else "")
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
    """Refuse values the program cannot use (types, choices, ranges), before any work starts."""
    for name in OPTIONS:
        check_value(name, cfg.get(name), f"--{name}")
    if cfg.get("devices") and cfg.get("strategy") != "mirrored":
        raise UserError("--devices is for --strategy mirrored (multiworker uses each machine's GPUs)")
    if os.path.isfile(cfg["exp_dir"]):
        raise UserError(f"--exp_dir {cfg['exp_dir']} is a file, not a folder")


def describe(cfg):
    """The resolved configuration as a few readable lines for the console."""
    items = [f"{k}={cfg[k]}" for k in sorted(cfg)]
    return "configuration: " + ", ".join(items)
