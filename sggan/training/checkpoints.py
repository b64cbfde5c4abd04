"""Checkpoints: everything needed to resume exactly, saved whole or not at all, keyed by name.

tf.train.CheckpointManager writes the data files first and the index that names the latest one
last (atomically), so an interrupted save leaves the previous checkpoint as the latest.

Networks and optimisers are stored as {variable path: variable} (paths such as
`generator/head3/out1/kernel` from the layers' explicit names, and `g_adam/generator_head3_out1_kernel_momentum`
for the Adam moments), not as positional lists: a network whose layers are created in another
order restores by name, and a checkpoint whose names or shapes differ is refused with the
differences named, never restored into the wrong layers.
"""
import glob
import os
import re
import time

import keras
import tensorflow as tf

from sggan.errors import UserError, warn


def by_name(owner):
    """A Keras model's weights, or an optimiser's variables, keyed by their paths; every path must be
    unique (explicit layer names)."""
    variables = owner.weights if isinstance(owner, keras.Model) else owner.variables
    named = {v.path: v for v in variables}
    if len(named) != len(variables):
        raise ValueError(f"{owner.name} has variables with the same path; give its layers unique names")
    return named


def saved(directory):
    """The checkpoints in a folder, oldest first, as (step, path): found from the files themselves,
    so they are found even when the `checkpoint` index file is missing or damaged."""
    found = []
    for index in glob.glob(os.path.join(glob.escape(directory), "ckpt-*.index")):
        match = re.fullmatch(r"ckpt-(\d+)\.index", os.path.basename(index))
        if match:
            found.append((int(match.group(1)), index[:-len(".index")]))
    return sorted(found)


def incomplete(directory):
    """Checkpoints whose files are incomplete, oldest first, as (step, path, what is missing): a
    .data-* shard without its .index, an .index without its .data-* shards (a copy or a save cut
    short). Such a checkpoint cannot be restored; saved() still lists those with an .index."""
    files = {}
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        match = re.fullmatch(r"ckpt-(\d+)\.(?:(index)|data-(\d+)-of-(\d+))", name)
        if match:
            entry = files.setdefault(int(match.group(1)), {"index": False, "shards": set(), "of": 0})
            if match.group(2):
                entry["index"] = True
            else:
                entry["shards"].add(int(match.group(3)))
                entry["of"] = int(match.group(4))
    found = []
    for step, entry in sorted(files.items()):
        lacking = entry["of"] - len(entry["shards"])
        if not entry["index"]:
            missing = "its .index file is missing"
        elif not entry["shards"]:
            missing = "its .data file is missing"
        elif lacking:
            missing = f"{lacking} of its {entry['of']} .data shards are missing"
        else:
            continue
        found.append((step, os.path.join(directory, f"ckpt-{step}"), missing))
    return found


def _index_state(directory):
    """The `checkpoint` index file's content, or None when it is missing or cannot be parsed."""
    try:
        return tf.train.get_checkpoint_state(directory)
    except Exception:  # TF raises several kinds for a damaged file  # noqa: BLE001
        return None


def _repair_index(directory, keep):
    """Rebuild a missing or damaged `checkpoint` index from the ckpt-N files themselves.

    CheckpointManager reads the index to know which checkpoints it manages; without one it would
    forget (and never rotate) the existing files. The rebuilt index lists the newest `keep`
    checkpoints, as the manager's own index would.
    """
    found = saved(directory)
    if not found:
        return
    state = _index_state(directory)
    if state is not None and state.model_checkpoint_path:
        return
    paths = [path for _, path in found[-keep:]]
    try:
        times = [os.path.getmtime(path + ".index") for path in paths]  # the manager rotates by these
        tf.compat.v1.train.update_checkpoint_state(directory, paths[-1], all_model_checkpoint_paths=paths,
                                                   all_model_checkpoint_timestamps=times,
                                                   last_preserved_timestamp=min(times) - 1)
    except Exception as problem:  # a read-only folder: the files are still found by saved()  # noqa: BLE001
        warn(f"the checkpoint index in {directory} is missing or damaged and cannot be rebuilt ({problem})")
        return
    warn(f"the checkpoint index {os.path.join(directory, 'checkpoint')} was missing or damaged; rebuilt "
         f"it from the files ({', '.join(os.path.basename(p) for p in paths)})")


def _escaped(name):
    """A dictionary key as tf.train.Checkpoint spells it in the checkpoint's variable names."""
    return name.replace(".", "..").replace("/", ".S")


class Checkpoints:
    """A tf.train.Checkpoint of the iteration counter, the data position and the given objects.

    `named` are Keras models and optimisers (stored by variable path); `others` are further
    trackables such as random generators. Checkpoints are read from `directory` and written to
    `write_to` (default: the same; a temporary folder on non-chief workers).
    """

    def __init__(self, directory, keep, named, others, write_to=None):
        self.directory = directory
        self.step = tf.Variable(0, dtype=tf.int64, name="step")                    # completed iterations
        self.data_position = tf.Variable(0, dtype=tf.int64, name="data_position")  # next stream element
        self.expected = {f"{key}/{_escaped(path)}/.ATTRIBUTES/VARIABLE_VALUE": tuple(v.shape)
                         for key, owner in named.items() for path, v in by_name(owner).items()}
        self.named_keys = tuple(named)
        self.checkpoint = tf.train.Checkpoint(
            step=self.step, data_position=self.data_position,
            **{key: by_name(owner) for key, owner in named.items()}, **others)
        _repair_index(directory, keep)
        self.manager = tf.train.CheckpointManager(self.checkpoint, write_to or directory, max_to_keep=keep,
                                                  checkpoint_name="ckpt")

    def save(self):
        """Save at the current step; returns the checkpoint's path."""
        return self.manager.save(checkpoint_number=int(self.step.numpy()))

    def available(self):
        """Saved checkpoints, oldest first, as (step, path)."""
        return saved(self.directory)

    def mismatch(self, path):
        """Why the variables in checkpoint `path` do not fit these networks and optimisers ('' when they do)."""
        stored = {name: tuple(shape) for name, shape in tf.train.list_variables(path)
                  if name.split("/", 1)[0] in self.named_keys}
        missing = sorted(set(self.expected) - set(stored))
        unexpected = sorted(set(stored) - set(self.expected))
        reshaped = sorted(n for n in set(stored) & set(self.expected) if stored[n] != self.expected[n])
        problems = []
        for label, names in (("missing", missing), ("not in this model", unexpected), ("of another shape", reshaped)):
            if names:
                shown = ", ".join(_readable(n) for n in names[:3])
                problems.append(f"{len(names)} weight(s) {label} (e.g. {shown})")
        return "; ".join(problems)

    def _restore(self, path):
        problem = self.mismatch(path)
        if problem:
            raise ValueError(problem)
        self.checkpoint.restore(path).assert_existing_objects_matched()

    def restore_latest(self):
        """Restore the newest readable checkpoint; an unreadable one falls back to the one before.

        Returns its path, or None when there is none (or none is readable). Incomplete checkpoints
        newer than the one restored are named in a warning.
        """
        broken = incomplete(self.directory)
        skipped = {step for step, _, _ in broken}
        for step, path in reversed(self.available()):
            if step in skipped:
                continue
            try:
                self._restore(path)
            except Exception as problem:  # TF raises many kinds for truncated or foreign files
                warn(f"checkpoint {path} cannot be used ({_reason(problem)}); trying the previous one")
                continue
            _warn_incomplete(broken, step, path)
            return path
        _warn_incomplete(broken, -1, None)
        return None

    def restore_step(self, step):
        """Restore the checkpoint of one iteration, or refuse naming what exists."""
        matches = [path for s, path in self.available() if s == step]
        for broken_step, path, missing in incomplete(self.directory):
            if broken_step == step:
                raise UserError(f"checkpoint {path} is incomplete ({missing}); available: "
                                f"{self.describe_available()}")
        if not matches:
            moved = [d for d in set_aside_folders(self.directory) if any(s == step for s, _ in saved(d))]
            where = f"; --fresh moved that one to {moved[-1]}" if moved else ""
            raise UserError(f"no checkpoint of iteration {step} in {self.directory}; "
                            f"available: {self.describe_available()}{where}")
        try:
            self._restore(matches[0])
        except Exception as problem:  # TF raises many kinds for truncated or foreign files
            raise UserError(f"checkpoint {matches[0]} cannot be used: {_reason(problem)}; "
                            "was it written with other network settings?")
        return matches[0]

    def restore_for_use(self, step=None):
        """Test, sample and FID modes: the checkpoint of `step`, else the latest readable one."""
        if step is not None:
            return self.restore_step(step)
        restored = self.restore_latest()
        if restored is None:
            raise UserError(f"no readable checkpoint in {self.directory}; train first "
                            f"(available: {self.describe_available()})")
        return restored

    def describe_available(self):
        broken = {step for step, _, _ in incomplete(self.directory)}
        steps = [str(s) for s, _ in self.available() if s not in broken]
        return ", ".join(steps) if steps else "none"


def _warn_incomplete(broken, restored_step, restored):
    """Name the incomplete checkpoints newer than the one restored (None: nothing was)."""
    for step, path, missing in broken:
        if step > restored_step:
            fallback = f"using {restored}" if restored else "no complete checkpoint before it"
            warn(f"checkpoint {path} is incomplete ({missing}); skipped it, {fallback}")


def _readable(key):
    """A checkpoint key back as the variable's path: `generator/.../kernel`."""
    escaped = key.split("/", 1)[1].split("/.ATTRIBUTES")[0]
    return escaped.replace(".S", "/").replace("..", ".")


def _reason(problem):
    text = str(problem).strip().splitlines()
    return text[0][:300] if isinstance(problem, ValueError) and text else type(problem).__name__


def _set_aside_name(directory):
    return f"{directory.rstrip(os.sep)}_before_fresh_"


def set_aside_folders(directory):
    """The folders --fresh moved this checkpoint folder's earlier contents to, oldest first."""
    return sorted(glob.glob(glob.escape(_set_aside_name(directory)) + "*"))


def set_aside(directory):
    """Move a checkpoint folder out of the way (for --fresh); returns the new name, or None."""
    if not os.path.isdir(directory) or not os.listdir(directory):
        return None
    target = _set_aside_name(directory) + time.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while os.path.exists(target):
        target, suffix = f"{target.rsplit('~', 1)[0]}~{suffix}", suffix + 1
    os.rename(directory, target)
    return target
