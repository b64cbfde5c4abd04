"""Looking at a VAC+GAN: classifier agreement with requested attributes, sample grids by attributes."""
import numpy as np
import tensorflow as tf

from sggan import images
from sggan.errors import UserError


def agreement(task, attributes, seed=0, batch=100):
    """Share of (face, attribute) pairs where the classifier agrees with the requested value on
    generated faces; per attribute and overall."""
    rng = tf.random.Generator.from_seed(seed)
    hits = []
    for start in range(0, len(attributes), batch):
        wanted = tf.constant(attributes[start:start + batch], tf.float32)
        faces = task.generate(rng.normal((len(wanted), task.cfg["z_dim"])), wanted)
        hits.append((task.predict(faces).numpy() > 0.5) == (wanted.numpy() > 0.5))
    hits = np.concatenate(hits)
    return float(hits.mean()), hits.mean(axis=0)


def sample_grid(task, vectors, labels, draws=8, seed=0):
    """A grid: one row per attribute vector (labelled with its settings), `draws` noise samples each."""
    rng = tf.random.Generator.from_seed(seed)
    z = rng.normal((draws, task.cfg["z_dim"]))
    rows = [task.generate(z, tf.repeat(tf.constant([v], tf.float32), draws, 0)).numpy() for v in vectors]
    columns = [np.stack([row[d] for row in rows]) for d in range(draws)]
    return images.grid(columns, [f"z{d + 1}" for d in range(draws)], row_labels=labels)


def describe_vector(names, vector, shown):
    """'Male=1 Smiling=0 …' for the attributes in `shown`."""
    return " ".join(f"{n}={int(vector[names.index(n)])}" for n in shown)


def parse_settings(tokens, names, test_classes):
    """`--set` tokens → attribute vectors: NAME=0|1 items, `/` starts a new vector, `row=N` starts
    from the attributes of test image N (else all 0)."""
    vectors, current, shown = [], None, []
    for token in list(tokens) + ["/"]:
        if token == "/":
            if current is not None:
                vectors.append(current)
            current = None
            continue
        if current is None:
            current = np.zeros(len(names), np.float32)
        name, _, value = token.partition("=")
        if name == "row":
            if not value.isdigit() or int(value) >= len(test_classes):
                raise UserError(f"--set row={value}: expected a test image number below {len(test_classes)}")
            current[:] = test_classes[int(value)]
            continue
        if name not in names:
            raise UserError(f"--set: unknown attribute {name!r}; valid names: {' '.join(names)}")
        if value not in ("0", "1"):
            raise UserError(f"--set {token}: the value must be 0 or 1")
        current[names.index(name)] = float(value)
        if name not in shown:
            shown.append(name)
    if not vectors:
        raise UserError("--mode sample needs --set NAME=0|1 … (e.g. --set Male=1 Smiling=1 Blond_Hair=1)")
    return vectors, shown
