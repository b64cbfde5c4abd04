"""--fid_network: the standard FID graph's loader, on a tiny stand-in graph made here with the real
one's tensor names, and `--mode fid` with it; a missing or wrong file is one error line."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from sggan.errors import UserError
from sggan.metrics import fid
from sggan.models.sggan import runs
from sggan.training.distribute import local_context
from tests.helpers import only_error_line, run_main

# The stand-in's pool_3: the mean colour of the resized image (0..255) times this matrix, less 0.5
# (its 2015 batch norm: mean 1, variance 4, scale 2, offset 0.5).
WEIGHTS = np.array([[1.0, 0.0, 0.5, 2.0], [0.0, 1.0, 0.5, -1.0], [0.0, 0.0, 1.0, 0.5]])


def write_stand_in(path):
    """A frozen graph shaped like classify_image_graph_def.pb where it matters: one JPEG decoded,
    cast and expanded to a batch of one at ExpandDims, resized to 299 × 299 by the graph, a [1, 1, 1, k]
    pool_3 made by BatchNormWithGlobalNormalization (removed from TensorFlow graphs made since
    GraphDef version 9), and the real file's GraphDef version, 3."""
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, name="DecodeJpeg/contents")
        image = tf.cast(tf.io.decode_jpeg(contents, name="DecodeJpeg"), tf.float32, name="Cast")
        batch = tf.expand_dims(image, 0, name="ExpandDims")
        resized = tf.compat.v1.image.resize_bilinear(batch, [299, 299], name="ResizeBilinear")
        colour = tf.reduce_mean(tf.cast(resized, tf.float64), axis=[1, 2], keepdims=True)  # exact sums
        tf.cast(tf.tensordot(colour, WEIGHTS, 1), tf.float32, name="mixed")
        for name, value in (("mean", 1.0), ("variance", 4.0), ("offset", 0.5), ("scale", 2.0)):
            tf.constant(np.full(len(WEIGHTS[0]), value, np.float32), name=f"norm/{name}")
    graph_def = graph.as_graph_def()
    norm = graph_def.node.add(name="pool_3", op="BatchNormWithGlobalNormalization",
                              input=["mixed", "norm/mean", "norm/variance", "norm/offset", "norm/scale"])
    norm.attr["T"].type = tf.float32.as_datatype_enum
    norm.attr["variance_epsilon"].f = 0.0
    norm.attr["scale_after_normalization"].b = True
    graph_def.versions.producer = 3
    with open(path, "wb") as f:
        f.write(graph_def.SerializeToString())
    return str(path)


def test_standard_network_takes_batches_in_0_255_and_returns_pool_3(tmp_path):
    extract, record = fid.network(write_stand_in(tmp_path / "graph.pb"))
    assert record == {"network": "inception-2015-12-05 (standard FID)", "network_path": str(tmp_path / "graph.pb")}
    colours = np.array([[-1.0, 0.0, 1.0], [0.5, -0.5, 0.25], [1.0, 1.0, -1.0]], np.float32)
    for side in (16, 32):  # the graph resizes any size itself
        images = np.broadcast_to(colours[:, None, None, :], (3, side, side, 3))
        features = np.asarray(extract(tf.constant(images)))
        np.testing.assert_allclose(features, ((colours + 1) * 127.5) @ WEIGHTS - 0.5, rtol=1e-5)


def test_fid_of_edits_with_the_standard_network(trained, tmp_path, capsys):
    experiment = trained.copy(tmp_path / "exp")
    graph = write_stand_in(tmp_path / "graph.pb")
    cfg = experiment.cfg("--mode", "fid", "--fid_images", "16", "--fid_network", graph)
    runs.fid_of_edits(cfg, local_context())
    report = json.load(open(os.path.join(experiment.exp_dir, "test", "fid.json")))
    assert report["network"] == "inception-2015-12-05 (standard FID)" and report["network_path"] == graph
    assert report["images"] == 16 and np.isfinite(report["fid_edits"]) and report["fid_edits"] >= 0
    assert "features from inception-2015-12-05 (standard FID)" in capsys.readouterr().out


def test_missing_network_file_is_one_error_line(trained, tmp_path):
    result = run_main(*trained.argv("--mode", "fid", "--fid_network", tmp_path / "missing.pb"))
    only_error_line(result, "missing.pb", "No such file", fid.STANDARD_URL, "classify_image_graph_def.pb",
                    "--fid_network PATH")


def test_wrong_network_file_says_how_to_get_the_right_one(tmp_path):
    (tmp_path / "junk.pb").write_bytes(b"\xff" * 64)
    with pytest.raises(UserError, match="is not a TensorFlow graph; .*inception-2015-12-05.tgz"):
        fid.network(str(tmp_path / "junk.pb"))
    other = tf.Graph()
    with other.as_default():
        tf.compat.v1.placeholder(tf.float32, name="x")
    (tmp_path / "other.pb").write_bytes(other.as_graph_def().SerializeToString())
    with pytest.raises(UserError, match="is not the standard FID network .*inception-2015-12-05.tgz"):
        fid.network(str(tmp_path / "other.pb"))
