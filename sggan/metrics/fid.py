"""Fréchet Inception Distance between two image sets (Heusel et al. 2017).

FID = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½), with the real part of the matrix square root, on
the 2048 pooled features of an Inception network on images resized to 299 × 299. Two networks
(--fid_network): Keras' InceptionV3 with ImageNet weights (the default; VAC+GAN's original used
it), or the standard FID network, inception-2015-12-05, whose figures compare with published ones.
Any feature extractor can be passed to distance() (the tests use small random-weight ones).
"""
import os

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf
from google.protobuf.message import DecodeError

from sggan.training import precision
from sggan.errors import UserError

INCEPTION_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_NETWORK = "keras InceptionV3 (ImageNet)"
STANDARD_NETWORK = "inception-2015-12-05 (standard FID)"
STANDARD_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
# Where TTUR feeds the standard graph (one decoded image, floats in 0..255, before the graph's own
# bilinear resize to 299 × 299 and scaling) and the features it takes.
STANDARD_INPUT, STANDARD_OUTPUT = "ExpandDims:0", "pool_3:0"


def statistics(features):
    """Mean and covariance of a [n, d] feature array."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    covmean, _ = scipy.linalg.sqrtm(sigma1 @ sigma2, disp=False)
    if not np.isfinite(covmean).all():  # near-singular product: regularise as is customary
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def distance(extractor, pairs):
    """FID between two image sets given as an iterable of (real batch, generated batch) in [-1, 1].

    One pass: only the features are kept, never the images (both models stream their test sets).
    """
    real, generated = [], []
    for real_batch, generated_batch in pairs:
        real.append(np.asarray(extractor(tf.convert_to_tensor(real_batch))))
        generated.append(np.asarray(extractor(tf.convert_to_tensor(generated_batch))))
    return frechet_distance(*statistics(np.concatenate(real)), *statistics(np.concatenate(generated)))


def network(path):
    """The extractor --fid_network chooses (None: Keras' InceptionV3) and what fid.json records of it."""
    if path is None:
        return inception_extractor(), {"network": KERAS_NETWORK}
    return standard_extractor(path), {"network": STANDARD_NETWORK, "network_path": os.path.abspath(path)}


def inception_extractor():
    """InceptionV3 (ImageNet weights, no top, average pooling) on images in [-1, 1] → 2048 features.

    The weights must already be in Keras' cache: nothing is downloaded here.
    """
    cache = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "models")
    path = os.path.join(cache, INCEPTION_WEIGHTS)
    if not os.path.isfile(path):
        raise UserError(f"the InceptionV3 weights for FID are not available offline ({path} is missing); "
                        "on a machine with internet run python -c \"import keras; keras.applications.InceptionV3("
                        "weights='imagenet', include_top=False)\" and copy the file into that folder")
    with precision.policy("float32"):  # the standard protocol's features, whatever --precision says
        model = keras.applications.InceptionV3(weights=path, include_top=False, pooling="avg",
                                               input_shape=(299, 299, 3))

    def extract(images):  # InceptionV3 expects [-1, 1], as the generators produce
        return model(tf.image.resize(images, (299, 299), method="bilinear"), training=False)
    return extract


def standard_extractor(path):
    """The standard FID network (classify_image_graph_def.pb, TTUR's and pytorch-fid's) on images in
    [-1, 1] → its 2048 pool_3 features.

    The images go in where TTUR feeds them, as floats in 0..255; the graph resizes and scales them
    itself. That tensor holds one image in the graph, so a batch placeholder is mapped onto it: the
    graph's shapes are then inferred again with a free batch size. The graph runs in a session of
    its own: its 2015 batch-norm ops run only in a graph that keeps the file's old GraphDef version
    (a tf.function's graph takes the current one and refuses them).
    """
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
        try:
            pool, = tf.compat.v1.import_graph_def(_standard_graph(path), input_map={STANDARD_INPUT: images},
                                                  return_elements=[STANDARD_OUTPUT], name="inception")
        except ValueError as problem:  # another graph: the tensors are missing or do not fit
            raise UserError(f"--fid_network {path} is not the standard FID network "
                            f"({str(problem).splitlines()[0]}); {_how_to_get_it()}") from None
        features = tf.reshape(pool, [tf.shape(images)[0], -1])
    session = tf.compat.v1.Session(graph=graph)

    def extract(batch):
        return session.run(features, {images: (np.asarray(batch, np.float32) + 1.0) * 127.5})
    return extract


def _standard_graph(path):
    """The frozen graph at `path`, or a one-line error that says how to get the right file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as problem:
        raise UserError(f"cannot read --fid_network {path} ({problem.strerror}); {_how_to_get_it()}") from None
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except DecodeError:
        raise UserError(f"--fid_network {path} is not a TensorFlow graph; {_how_to_get_it()}") from None
    return graph_def


def _how_to_get_it():
    return (f"the standard FID network is classify_image_graph_def.pb from {STANDARD_URL}: download and "
            "extract that file, then pass --fid_network PATH")
