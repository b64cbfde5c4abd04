"""The models this package trains, in one table: main.py dispatches through it, nothing else
asks which model is running.

Each model package offers the same small interface, importable without TensorFlow:
PRESET / DEMO_PRESET (names in config.PRESETS, or None), EXPERIMENT_SUFFIX, MODES, TRAINED_MODES
(the modes that read a trained experiment's config.json), NEXT_MODES (what to run after training),
validate(cfg) (settings checks), dry_run(cfg, context) → dict, and run(cfg, context) → exit status (context: training.distribute.RunContext).
"""
from sggan.models import sggan, vacgan

MODELS = {"sggan": sggan, "vacgan": vacgan}
