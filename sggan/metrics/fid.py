"""Fréchet Inception Distance between two image sets (Heusel et al. 2017).

FID = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½), with the real part of the matrix square root, on
the 2048 pooled InceptionV3 features of images resized to 299 × 299. Any feature extractor can be
passed in (the tests use small random-weight ones).
"""
import os

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

from sggan.training import precision
from sggan.errors import UserError

INCEPTION_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


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
