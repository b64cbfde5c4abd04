"""Command-line options: config.py's values, overridden by flags, checked before anything runs.

config.py holds the values; this module holds what each one means (type, allowed values,
help text) and the checks that refuse bad combinations with a one-line error.
"""
import argparse
import dataclasses
import difflib
import importlib.util
import math
import os
import shlex
import traceback

from sggan.errors import UserError, warn

TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclasses.dataclass(frozen=True)
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
    unset: str = None          # what None means, for --help and the docs
    modes: tuple = None        # the modes that read it (None: every mode)
    models: tuple = None       # the models that read it (None: both)
    action: bool = False       # asks for work (photos, samples): refused, not just warned, where unused
    group: str = None          # config.py's section, set by _grouped

    @property
    def flag(self):
        """A switch: `--name` or `--name true` = True, `--name false` = False."""
        return self.type is bool


def _grouped(group, options):
    """One config.py section's options, each marked with the section's name."""
    return {name: dataclasses.replace(option, group=group) for name, option in options.items()}


# config.py's sections, in order, and the modes each matters for (None: every mode). `--mode M --help`
# shows only the groups of mode M.
GROUPS = {
    "what to run": None,
    "data": ("train", "test", "classifier", "fid", "sample"),
    "model": ("train",),
    "training": ("train", "classifier"),
    "watching and saving": ("train",),
    "test mode": ("test", "export", "fid", "sample", "classifier"),
    "VAC+GAN": ("train", "sample", "fid"),
}

# TensorFlow, NumPy and Python's random module all take seeds below 2**32.
SEED_LIMIT = 2 ** 32 - 1

OPTIONS = {
    **_grouped("what to run", {
        "model": Option("which model: sggan (attribute editing) or vacgan (conditional generation)", str,
                        choices=("sggan", "vacgan")),
    }),
    **_grouped("data", {
        "data_dir": Option("folder with list_attr_celeba.txt and the images", str),
        "image_dir": Option("image folder", str, optional=True,
                            unset="celebA/ or img_align_celeba/ under data_dir"),
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
                           float, optional=True, minimum=0.0, unset="as --sp_type"),
        "labelled_pair": Option("the same for two-way groups", float, optional=True, unset="as --labelled",
                                minimum=0.0),
        "oversample_times": Option("append the labelled prefix of the training list this many more times", int,
                                   minimum=0),
        "skip_missing": Option("drop listed images that are missing on disk (with a warning) instead of refusing",
                               bool),
    }),
    **_grouped("model", {
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
    }),
    **_grouped("training", {
        "loss": Option("adversarial loss", str, choices=("wgan-gp", "hinge", "lsgan", "nsgan")),
        "batch_size": Option("images per batch", int, positive=True),
        "max_iters": Option("training iterations (generator updates)", int, positive=True),
        "n_critic": Option("discriminator updates per generator update", int, positive=True),
        "learn_rate": Option("Adam learning rate (SG-GAN: both networks; VAC+GAN: discriminator, classifier)",
                             float, positive=True),
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
                          "the CPU into logical devices)", str, nargs="+", optional=True,
                          unset="all GPUs"),
        "precision": Option("arithmetic: float32, or mixed float16 (loss-scaled) / bfloat16 with float32 weights",
                            str, choices=("float32", "mixed_float16", "mixed_bfloat16")),
        "jit": Option("compile the training steps with XLA", bool),
    }),
    **_grouped("watching and saving", {
        "log_every": Option("iterations between console/loss-log lines", int, positive=True),
        "sample_every": Option("iterations between sample grids", int, positive=True),
        "eval_every": Option("iterations between test accuracy checks", int, positive=True),
        "save_every": Option("iterations between kept checkpoints", int, positive=True),
        "keep": Option("most recent checkpoints kept besides the periodic ones", int, positive=True),
        "fresh": Option("ignore existing checkpoints and start again", bool),
    }),
    **_grouped("test mode", {
        "test_step": Option("checkpoint iteration to restore in test mode", int, optional=True, unset="the latest",
                            modes=("test", "export", "fid", "sample"),
                            minimum=0),
        "num_test": Option("test only the first N test images", int, optional=True, positive=True, unset="all",
                           modes=("test",)),
        "input": Option("your own photos (files or folders) for test mode", str, nargs="+", optional=True,
                        unset="none", modes=("test",), action=True),
        "save_single": Option("in test mode also write each output as its own file", bool, modes=("test",),
                              action=True),
        "landmark_template": Option("where --input photos' faces are aligned to: x y of the left eye, right eye, "
                                    "nose, left and right mouth corner as fractions of the model's square (10 "
                                    "numbers); recorded in the experiment's config.json", float, nargs="+",
                                    optional=True, minimum=0.0, maximum=1.0, unset="CelebA's for CelebA-format "
                                    "data, else measured on 64 training images when training starts",
                                    modes=("train", "test", "export"), models=("sggan",)),
        "align": Option("--input photos: find every face (MTCNN), align it like CelebA and paste its edits back "
                        "into the full photo; false: use each photo's centre square as it is", bool, modes=("test",)),
        "classifier_steps": Option("training batches (of 64) of the attribute classifier (--mode classifier)",
                                   int, positive=True, modes=("classifier",), models=("sggan",)),
        "fid_network": Option("the FID's network: the standard one (classify_image_graph_def.pb from TTUR's "
                              "inception-2015-12-05.tgz), whose figures compare with published FIDs", str,
                              optional=True, unset="Keras' InceptionV3 with ImageNet weights", modes=("fid",)),
    }),
    **_grouped("VAC+GAN", {
        "z_dim": Option("VAC+GAN noise size", int, positive=True, models=("vacgan",)),
        "set": Option("VAC+GAN sample mode: attribute settings NAME=0|1", str, nargs="+", optional=True,
                      unset="attributes of test images",
                      modes=("sample",), models=("vacgan",), action=True),
        "fid_images": Option("images per side for --mode fid", int, positive=True, modes=("fid",)),
        "fid_real": Option("VAC+GAN's real FID images: random (drawn at random, seeded, from the whole set: "
                           "the original's protocol) or test (the first --fid_images test images)", str,
                           choices=("random", "test"), modes=("fid",), models=("vacgan",)),
        "g_learn_rate": Option("VAC+GAN generator learning rate", float, positive=True, models=("vacgan",)),
    }),}


def _parser(settings, models, presets, mode=None):
    """The argument parser: one argument group per config.py section (only mode `mode`'s, if given)."""
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="SG-GAN (sparsely grouped facial attribute editing) and VAC+GAN, in TensorFlow 2. "
                    "Defaults come from config.py; every setting can be overridden here."
                    + (f" Showing the settings of --mode {mode}." if mode else ""))
    modes = list(dict.fromkeys(mode for model in models.values() for mode in model.MODES))
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
    shown_groups = [group for group, used_by in GROUPS.items() if mode is None or used_by is None or mode in used_by]
    sections = {group: parser.add_argument_group(group) for group in GROUPS}
    for name, opt in OPTIONS.items():
        section = sections[opt.group]
        default = settings.get(name)
        help_text = f"{opt.help} (default: {opt.unset if default is None else _shown(default)})"
        if opt.group not in shown_groups:  # parsed all the same, only not shown
            help_text = argparse.SUPPRESS
        if opt.flag:  # `--name false` undoes a preset's or config.py's True
            section.add_argument(f"--{name}", nargs="?", const=True, type=_switch(name), default=None,
                                 metavar="true|false", help=help_text)
            continue
        section.add_argument(f"--{name}", type=_typed(name, opt.type), choices=opt.choices, nargs=opt.nargs,
                             default=None, help=help_text)
    return parser


def _shown(value):
    """A setting's value as typed on the command line: lists space-separated."""
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


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
    parser = _parser(settings, models, sorted(config_module.PRESETS), _mode_asked(argv))
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
    _anchor_defaults(settings, given if args.exp_dir is None else {**given, "exp_dir": args.exp_dir},
                     getattr(config_module, "__file__", None))
    settings["demo"] = args.demo
    settings["dry_run"] = args.dry_run
    settings["presets"] = presets
    if settings["mode"] not in model.MODES:
        owners = [name for name, other in models.items() if settings["mode"] in other.MODES]
        raise UserError(f"--mode {settings['mode']} is not a mode of {model_name} (its modes: "
                        f"{', '.join(model.MODES)}); it belongs to --model {' / '.join(owners)}")
    _check_relevance(given, settings["mode"], model_name)
    validate(settings)
    model.validate(settings)
    return settings


def _check_relevance(given, mode, model_name):
    """Flags the chosen mode or model ignores: refused when they ask for work (--input in train
    mode), else a warning (--z_dim with SG-GAN)."""
    for name in given:
        opt = OPTIONS[name]
        if opt.models and model_name not in opt.models:
            problem = f"--{name} is a setting of --model {' / '.join(opt.models)}; {model_name} ignores it"
        elif opt.modes and mode not in opt.modes:
            problem = (f"--{name} is for --mode {' / '.join(opt.modes)}; --mode {mode} ignores it")
        else:
            continue
        if opt.action:
            raise UserError(problem)
        warn(problem)


# Folders whose relative defaults (config.py, presets, train_log_<name>) mean the project's own.
PROJECT_PATHS = ("data_dir", "image_dir", "exp_dir")


def _anchor_defaults(settings, given, config_path):
    """Relative folders that come from config.py rather than the command line, made relative to
    config.py's folder (the project root), so that `python3 /path/to/main.py --demo` run from
    elsewhere finds the project's data/. A relative path typed on the command line stays relative
    to the working directory."""
    if config_path is None:
        return
    root = os.path.dirname(os.path.abspath(config_path))
    for name in PROJECT_PATHS:
        value = settings.get(name)
        if name not in given and value and not os.path.isabs(value):
            settings[name] = os.path.normpath(os.path.join(root, value))


def _mode_asked(argv):
    """The --mode on the command line (None without one), so that --help can show only its groups."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--mode")
    return pre.parse_known_args(argv)[0].mode


def _unknown_flag_message(flag, parser):
    known = [opt for action in parser._actions for opt in action.option_strings]
    close = difflib.get_close_matches(flag.split("=")[0], known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see python main.py --help"
    return f"unknown option {flag}{hint}"


def validate(cfg):
    """Refuse values the program cannot use (types, choices, ranges), before any work starts."""
    for name in OPTIONS:
        check_value(name, cfg.get(name), f"--{name}")
    if cfg.get("landmark_template") is not None and len(cfg["landmark_template"]) != 10:
        raise UserError(f"--landmark_template takes 10 numbers (x y of five landmarks), got "
                        f"{len(cfg['landmark_template'])}")
    if cfg.get("devices") and cfg.get("strategy") != "mirrored":
        raise UserError("--devices is for --strategy mirrored (multiworker uses each machine's GPUs)")
    for name in ("labelled", "labelled_pair"):
        value = cfg.get(name)
        if value is not None and value >= 1 and value != int(value):
            raise UserError(f"--{name} {value:g} must be a whole count of images or a fraction below 1")
    if os.path.isfile(cfg["exp_dir"]):
        raise UserError(f"--exp_dir {cfg['exp_dir']} is a file, not a folder")


def check_paths(cfg, model):
    """Folders and files the run will read, checked before TensorFlow's slow import: the data folder,
    the --input photos (decoded with Pillow) and a trained experiment's config.json."""
    mode = cfg["mode"]
    reads_data = cfg["dry_run"] or mode in ("train", "classifier") or (mode == "test" and not cfg["input"])
    if reads_data and not cfg["demo"] and not os.path.isdir(cfg["data_dir"]):  # the demo's faces are drawn on first use
        raise UserError(f"data folder {cfg['data_dir']} does not exist; set --data_dir to the folder holding "
                        "list_attr_celeba.txt (or use --demo for the bundled demo faces)")
    if mode == "test":
        for item in cfg["input"] or []:
            _check_photos(item)
    config_json = os.path.join(cfg["exp_dir"], "config.json")
    if mode in model.TRAINED_MODES and not cfg["dry_run"] and not os.path.isfile(config_json):
        raise UserError(f"no trained experiment in {cfg['exp_dir']} (looked for {config_json}); train first "
                        "or point --exp_dir / --oper_name at one")


def _check_photos(item):
    """--input ITEM exists and is (a file) or holds (a folder) a readable image."""
    from sggan import images  # Pillow and NumPy, no TensorFlow
    if os.path.isdir(item):
        files = sorted(os.path.join(item, name) for name in os.listdir(item))
        if not any(os.path.isfile(path) and images.load_photo(path) is not None for path in files):
            raise UserError(f"--input {item} holds no readable image (JPEG or PNG)")
    elif not os.path.isfile(item):
        raise UserError(f"--input {item} does not exist")
    elif not os.access(item, os.R_OK) or images.load_photo(item) is None:
        raise UserError(f"--input {item} is not a readable image (JPEG or PNG)")


def describe(cfg):
    """A one-line summary of a run for the console; every setting is in the experiment's config.json."""
    presets = f" (preset {', '.join(cfg['presets'])})" if cfg.get("presets") else ""
    size = cfg["image_size"]
    return (f"configuration: {cfg['model']}{presets}, data {cfg['data_dir']}, {size}x{size} images, "
            f"batch {cfg['batch_size']}, {cfg['max_iters']} iterations, experiment {cfg['exp_dir']} "
            f"(every setting: {os.path.join(cfg['exp_dir'], 'config.json')})")


def next_commands(script, argv, cfg, modes):
    """The commands that use a finished run's experiment in each of `modes`: the run's own flags
    without the ones only training reads, with --mode and --exp_dir."""
    kept, skipping = [], False
    for token in argv:
        if token.startswith("--"):
            name = token[2:].split("=")[0]
            option = OPTIONS.get(name)
            skipping = name in ("mode", "exp_dir", "fresh") or (
                option is not None and option.group in ("model", "training", "watching and saving"))
        if not skipping:
            kept.append(token)
    return [shlex.join(["python3", script, *kept, "--mode", mode, "--exp_dir", cfg["exp_dir"]])
            for mode in modes]


def configuration_markdown(settings, presets):
    """docs/configuration.md: every setting by config.py section, then what each preset changes.

    Made from OPTIONS and config.py by scripts/make_config_docs.py, so that the page cannot drift.
    """
    lines = ["# Configuration", "",
             "<!-- Generated by scripts/make_config_docs.py from sggan/app/options.py and config.py; "
             "do not edit by hand. -->", "",
             "Every setting lives in `config.py`'s `SETTINGS` and can be overridden on the command line "
             "under the same name (`--batch_size 16`). `python3 main.py --help` lists them too; "
             "`python3 main.py --mode test --help` only those of one mode.", ""]
    for group, used_by in GROUPS.items():
        lines += [f"## {group}", "", f"Used by: {'every mode' if used_by is None else ', '.join(used_by)}.", "",
                  "| name | default | meaning | allowed values |", "|---|---|---|---|"]
        for name, opt in OPTIONS.items():
            if opt.group == group:
                default = settings.get(name)
                shown = opt.unset if default is None else _shown(default)
                lines.append(f"| `--{name}` | {_cell(shown)} | {_cell(opt.help)} | {_cell(allowed(opt))} |")
        lines.append("")
    lines += ["## Presets", "",
              "A preset is applied on top of `SETTINGS`: `--preset NAME`, `--demo` (`demo`, or `vacgan_demo` "
              "with `--model vacgan`), and `vacgan` always with `--model vacgan`. Flags still win.", ""]
    for name, values in presets.items():
        lines += [f"### {name}", "", "| setting | value | instead of |", "|---|---|---|"]
        lines += [f"| `--{key}` | {_cell(_shown(value))} | {_cell(_shown(settings.get(key)))} |"
                  for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def allowed(opt):
    """The values an option takes, in words: its choices, or its kind and range."""
    if opt.flag:
        text = "true, false"
    elif opt.choices is not None:
        text = ", ".join(map(str, opt.choices))
    else:
        text = {int: "whole number", float: "number", str: "text"}[opt.type]
        bounds = ["> 0" if opt.positive else None,
                  f"≥ {opt.minimum:g}" if opt.minimum is not None else None,
                  f"< {opt.below:g}" if opt.below is not None else None,
                  f"≤ {opt.maximum}" if opt.maximum is not None else None]
        text = " ".join([text, ", ".join(b for b in bounds if b)]).strip()
    if opt.nargs:
        text = f"one or more of: {text}"
    return text + (", or unset" if opt.optional else "")


def _cell(text):
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|")
