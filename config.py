"""Experiment settings: plain data, edited by hand, overridden by command-line flags.

`python main.py` reads this file; every name in SETTINGS can be overridden on the
command line with the same name (`--batch_size 16`). `python main.py --help` lists
them all with what they mean. Defaults are those of the original SG-GAN code.
"""

# 0 = train, 1 = test (as in the original code). `--mode` on the command line wins.
OPER_FLAG = 0

# Experiment name: outputs go to train_log_<OPER_NAME>/ unless --exp_dir says otherwise.
OPER_NAME = "sggan_celeba"

SETTINGS = {
    # --- what to run -------------------------------------------------------------------
    "model": "sggan",               # sggan | vacgan
    # --- data --------------------------------------------------------------------------
    "data_dir": "./data/celeba",    # holds list_attr_celeba.txt and celebA/ or img_align_celeba/
    "image_dir": None,              # explicit image folder (default: found under data_dir)
    "data_format": "auto",          # auto | folder | tfrecord
    "attributes": ["Male", "Smiling", "Black_Hair/Blond_Hair-Brown_Hair", "Wearing_Lipstick"],
    "split": "lines",               # lines (original: test = images 3..4999) | partition | fraction
    "test_fraction": 0.1,           # share of images held out by --split fraction
    "sp_type": 0,                   # sparse labelling preset of the paper: 0, 1 or 2
    "labelled": None,               # label only the first N training images (or a fraction < 1)
    "labelled_pair": None,          # the same for two-way groups such as hair (default: --labelled)
    "oversample_times": 0,          # append the labelled prefix this many more times
    "skip_missing": False,          # drop listed images missing on disk instead of refusing
    # --- model -------------------------------------------------------------------------
    "image_size": 128,
    "ngf": 64,                      # generator base width
    "ndf": 64,                      # discriminator base width
    "n_blocks": 6,                  # residual blocks in the generator trunk
    "d_layers": 6,                  # stride-2 convolutions in the discriminator
    "no_sp": False,                 # turn spectral normalisation of the discriminator off
    "upsampling": "deconv",         # deconv (original: 4x4 stride-2 transposed conv) | resize (nearest + 3x3 conv)
    "identity_init": False,         # start each output block as a copy of the input image (not original)
    # --- training ----------------------------------------------------------------------
    "loss": "wgan-gp",              # wgan-gp | hinge | lsgan | nsgan
    "batch_size": 8,
    "max_iters": 40000,
    "n_critic": 5,                  # discriminator updates per generator update
    "learn_rate": 1e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "decay_start": 20000,           # linear learning-rate decay starts after this iteration
    "lam_recon": 10.0,
    "lam_gp": 10.0,
    "lam_cls": 1.0,
    "lam_gp_cls": 0.0,              # penalty on the input gradient of the critic's class margins (not original)
    "lam_id": 0.0,                  # identity L1 of own-class outputs on labelled inputs (not original)
    "lam_cycle": 0.0,               # cycle L1 back to a labelled input's own class (not original)
    "lam_keep": 0.0,                # critic's class of the unedited groups = the input's label (not original)
    "critic_noise": 0.0,            # std of Gaussian noise on the critic's inputs (not original)
    "critic_noise_to": "all",       # all (adversary, penalty, classes) | classifier (its class heads only)
    "seed": 1234,
    "deterministic": False,         # bit-exact ops (slower); resuming is exact with it on
    "strategy": "default",          # default (one device) | mirrored (GPUs / --devices) | multiworker
    "devices": None,                # for mirrored, e.g. GPU:0,GPU:1 (default: all GPUs)
    "precision": "float32",         # float32 | mixed_float16 | mixed_bfloat16
    "jit": False,                   # XLA-compile the training steps (see README, "Speed")
    # --- watching and saving -----------------------------------------------------------
    "log_every": 200,
    "sample_every": 400,
    "eval_every": 1000,
    "save_every": 2000,
    "keep": 5,                      # most recent checkpoints kept besides the periodic ones
    "fresh": False,                 # ignore existing checkpoints and start again
    # --- test mode ---------------------------------------------------------------------
    "test_step": None,              # iteration to restore (default: the latest checkpoint)
    "num_test": None,               # test only the first N test images
    "input": None,                  # your own photos: files or folders
    "save_single": False,           # also write each output as its own image file
    "align": True,                  # --input: find faces (MTCNN), align like the training images, paste edits back
    "landmark_template": None,      # 10 numbers: x y of eyes, nose, mouth corners / side (None: CelebA's or measured)
    "classifier_steps": 1000,       # batches of 64 for the attribute classifier (--mode classifier)
    "fid_network": None,            # standard FID network: classify_image_graph_def.pb (None: Keras' InceptionV3)
    # --- VAC+GAN -----------------------------------------------------------------------
    "z_dim": 100,
    "set": None,                    # attribute settings for --mode sample, e.g. Male=1 Smiling=1
    "fid_images": 10000,            # images per side for --mode fid
    "fid_real": "random",           # VAC+GAN FID real images: random (whole set; original) | test
    "g_learn_rate": 1e-4,           # VAC+GAN generator learning rate
}

# Presets, applied on top of SETTINGS when selected; command-line flags still win.
PRESETS = {
    # `--demo`: the bundled procedural faces and a network small enough for a laptop CPU.
    "demo": {
        "data_dir": "./data/demo_faces",
        "split": "partition",
        "image_size": 32,
        "ngf": 16,
        "ndf": 16,
        "n_blocks": 2,
        "d_layers": 3,
        "identity_init": True,      # learns input-preserving edits in minutes (see README)
        "critic_noise": 0.5,        # the critic's class heads judge noisy images: fewer fooled by speckle
        "critic_noise_to": "classifier",
        "batch_size": 16,
        "learn_rate": 2e-4,
        "max_iters": 600,
        "decay_start": 400,
        "log_every": 50,
        "sample_every": 100,
        "eval_every": 200,
        "save_every": 200,
    },
    # `--preset utkface_age`: age (and gender) editing on UTKFace's aligned-and-cropped faces,
    # labels read from the file names (README, "UTKFace"); the rest is the paper's settings.
    "utkface_age": {
        "data_dir": "./data/utkface",   # the UTKFace/ folder, or the folder holding it
        "attributes": ["age=0-19,20-39,40-59,60-", "gender=male,female"],
        "split": "fraction",            # no official split: the last 10% of a fixed shuffle
        "test_fraction": 0.1,
        # where UTKFace's chips put eyes, nose and mouth corners (median of MTCNN on 250 of them)
        "landmark_template": [0.3025, 0.2925, 0.69, 0.2925, 0.4875, 0.5175, 0.3225, 0.6875, 0.6725, 0.6875],
    },
    # `--preset utkface_real`: age and gender editing of real UTKFace faces at CPU size (not the
    # paper's settings: the demo's small networks plus the levers that keep each output the input's
    # person; docs/evaluation.md has its measured figures). Combine with --data_dir.
    "utkface_real": {
        "data_dir": "./data/utkface",
        "attributes": ["age=0-19,20-39,40-59,60-", "gender=male,female"],
        "split": "fraction",
        "test_fraction": 0.1,
        "landmark_template": [0.3025, 0.2925, 0.69, 0.2925, 0.4875, 0.5175, 0.3225, 0.6875, 0.6725, 0.6875],
        "image_size": 32,
        "ngf": 16,
        "ndf": 16,
        "n_blocks": 2,
        "d_layers": 3,
        "batch_size": 16,
        "learn_rate": 2e-4,
        "identity_init": True,
        "upsampling": "resize",     # no checkerboard speckle
        "critic_noise": 0.5,
        "critic_noise_to": "classifier",
        "lam_id": 10.0,             # outputs of the input's own class return the input: no collapse
        "lam_keep": 1.0,            # the critic keeps the other group's class: fewer gender cues in age edits
        "max_iters": 3000,
        "decay_start": 2000,
        "classifier_steps": 1500,
        "log_every": 100,
        "sample_every": 500,
        "eval_every": 500,
        "save_every": 500,
    },
    # `--model vacgan`: the CelebA-Conditional-GAN (VAC+GAN) defaults.
    "vacgan": {
        "split": "all",             # the original trains on all 202,599 images
        "image_size": 64,
        "batch_size": 100,
        "learn_rate": 2e-4,         # discriminator and classifier
        "g_learn_rate": 5e-5,       # generator
        "beta1": 0.0,
        "beta2": 0.999,
        "n_critic": 2,              # discriminator/classifier rounds per generator round
        "max_iters": 25325,         # 25 epochs of 202,599 images at 2 x 100 per iteration
        "log_every": 100,
        "sample_every": 500,
        "eval_every": 1000,
        "save_every": 1013,
    },
    "vacgan_demo": {
        "data_dir": "./data/demo_faces",
        "split": "partition",
        "image_size": 32,
        "batch_size": 32,
        "g_learn_rate": 2e-4,       # 4x the reference's, to learn in minutes
        "max_iters": 800,
        "log_every": 100,
        "sample_every": 200,
        "eval_every": 200,
        "save_every": 200,
    },
}
