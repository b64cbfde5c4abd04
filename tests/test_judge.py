"""The independent judge: the attribute classifier and the figures it gives generator outputs."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from sggan.data import datasets, pipeline
from sggan.training import precision
from sggan.models.sggan import classifier, evaluation, judge, runs
from sggan.models.sggan.outputs import Output
from sggan.models.sggan.data import TRANSFORM
from sggan.models.sggan import data as sggan_data
from sggan.training.distribute import local_context
from tests.helpers import TINY, make_cfg

GROUPS = 4
SIZE = 8


class RegionClassifier:
    """A stub judge: group a's class is 1 when the mean of image row band a is positive."""
    image_size = SIZE

    def predict_classes(self, images):
        images = np.asarray(images)
        bands = np.split(images, GROUPS, axis=1)
        return np.stack([(band.mean(axis=(1, 2, 3)) > 0).astype(int) for band in bands], 1)


def perfect_editor(images):
    """Output k paints band k // 2 bright (on) or dark (off) and leaves the rest alone."""
    outputs = []
    for k in range(2 * GROUPS):
        edited = np.array(images)
        band = slice((k // 2) * SIZE // GROUPS, (k // 2 + 1) * SIZE // GROUPS)
        edited[:, band] = 0.8 if k % 2 == 0 else -0.8
        outputs.append(tf.constant(edited))
    return outputs


def stub_batches(n=40, seed=0):
    """Random images whose bands carry a known class each; every image labelled."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 2, (n, GROUPS))
    images = rng.uniform(-0.3, 0.3, (n, SIZE, SIZE, 3)).astype(np.float32)
    for a in range(GROUPS):
        images[:, a * 2:(a + 1) * 2] += np.where(classes[:, a] == 1, 0.5, -0.5)[:, None, None, None]
    masks = np.ones((n, GROUPS), np.float32)
    return [(tf.constant(images[i:i + 10]), classes[i:i + 10], masks[i:i + 10]) for i in range(0, n, 10)], classes


def judged(generator, batches):
    """Evaluator.judge_batches with a stub generator and the stub judge; outputs in the original order."""
    evaluator = evaluation.Evaluator.__new__(evaluation.Evaluator)
    evaluator.generator, evaluator.classifier = generator, RegionClassifier()
    evaluator.outputs = [Output(k, k // 2, 1 - k % 2, k ^ 1, f"output {k}") for k in range(2 * GROUPS)]
    return evaluator.judge_batches(batches)


WHOLE = {"spread_ratio": 1.0, "collapsed": False, "identity": 1.0, "identity_lost": False}  # integrity() of a fine output


def test_identity_generator_changes_nothing_where_a_change_is_needed():
    batches, classes = stub_batches()
    figures = judged(lambda images: [tf.identity(images)] * (2 * GROUPS), batches)
    for k, f in enumerate(figures):
        a, wanted = k // 2, 1 - k % 2
        assert f["success_needed"] == 0.0 and f["needed"] == int(np.sum(classes[:, a] != wanted))
        assert f["success"] == pytest.approx(np.mean(classes[:, a] == wanted))
        assert f["preservation"] == 1.0 and f["l1"] == 0.0 and f["l1_kept"] == 0.0
        assert f["psnr_kept"] == pytest.approx(10 * np.log10(4 / 1e-10))  # the floor of the squared error
        assert f["spread_ratio"] == pytest.approx(1.0) and not f["collapsed"]
        assert f["identity"] == 1.0 and not f["identity_lost"]


def test_perfect_editor_succeeds_and_preserves():
    batches, _ = stub_batches()
    figures = judged(perfect_editor, batches)
    assert all(f["success"] == 1.0 and f["success_needed"] == 1.0 and f["preservation"] == 1.0 for f in figures)
    assert all(0.0 < f["l1"] < 1.0 and not f["collapsed"] for f in figures)


def test_one_fixed_image_per_output_is_flagged_collapsed():
    batches, _ = stub_batches()
    fixed = np.random.default_rng(5).uniform(-1, 1, (2 * GROUPS, SIZE, SIZE, 3)).astype(np.float32)

    def constant(images):
        return [tf.constant(np.repeat(fixed[k][None], len(images), 0)) for k in range(2 * GROUPS)]
    figures = judged(constant, batches)
    assert all(f["collapsed"] and f["spread_ratio"] == 0.0 for f in figures)
    n = min(judge.SPREAD_IMAGES, sum(len(b[0]) for b in batches))
    assert all(f["identity_lost"] and f["identity"] <= 1.0 / n for f in figures)  # at most its own row's input


def test_preservation_counts_other_groups_and_l1_psnr_by_hand():
    inputs = np.zeros((2, SIZE, SIZE, 3), np.float32)
    predicted_in = np.array([[1, 0, 0, 1], [0, 0, 1, 1]])
    predicted_out = np.array([[1, 1, 0, 1], [1, 0, 0, 0]])  # image 0 flips group 1; image 1 flips 2 and 3
    classes = np.array([[1, 0, 0, 1], [0, 0, 1, 1]])
    masks = np.array([[1, 1, 1, 1], [1, 1, 0, 1]], np.float32)
    outputs = inputs + 0.1
    l1, psnr = judge.per_image_l1(outputs, inputs), judge.per_image_psnr(outputs, inputs)
    f = judge.output_figures(0, 1, predicted_in, predicted_out, classes, masks, l1, psnr, WHOLE)  # group 0 on
    assert f["success"] == 1.0 and f["needed"] == 1 and f["success_needed"] == 1.0  # only image 1 needed it
    assert f["preservation"] == pytest.approx(3 / 6)  # groups 1-3: image 0 keeps 2 of 3, image 1 keeps 1 of 3
    assert f["kept"] == 1 and f["l1_kept"] == pytest.approx(0.1)
    assert f["psnr_kept"] == pytest.approx(10 * np.log10(4 / 0.01))
    hair = judge.output_figures(2, 1, predicted_in, predicted_out, classes, masks, l1, psnr, WHOLE)  # group 2 on
    assert hair["needed"] == 1 and hair["kept"] == 0 and np.isnan(hair["l1_kept"])  # image 1 unlabelled there


def test_collapse_rule_threshold():
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, (10, 4, 4, 3))
    assert judge.spread_ratio(inputs * 0.5, inputs) == pytest.approx(0.5)
    assert judge.spread_ratio(inputs * (judge.COLLAPSE_RATIO * 0.9), inputs) < judge.COLLAPSE_RATIO


@pytest.fixture(scope="module")
def experiment(demo_dir, tmp_path_factory):
    """A tiny experiment: 2 GAN iterations and a classifier trained for 30 steps."""
    exp = tmp_path_factory.mktemp("judged") / "exp"

    def cfg(*extra):
        return make_cfg("--data_dir", demo_dir, "--exp_dir", exp, *TINY, *extra)
    keras.utils.set_random_seed(0)
    runs.train(cfg("--max_iters", "2"), local_context())
    runs.train_classifier(cfg("--mode", "classifier", "--classifier_steps", "30"), local_context())
    return cfg


def test_classifier_accuracy_matches_a_count_by_hand(experiment):
    cfg = experiment()
    report = json.load(open(os.path.join(cfg["exp_dir"], "classifier.json")))
    assert report["test_images"] == 16 and report["image_size"] == 16 and report["steps"] == 30
    ds = datasets.prepare(cfg, sggan_data.labelling)
    model = classifier.load(cfg["exp_dir"], len(ds.groups))
    hits, counts = np.zeros(len(ds.groups)), np.zeros(len(ds.groups))
    for i, name in enumerate(ds.test.files):
        raw = tf.io.read_file(os.path.join(ds.image_dir, name))
        predicted = model.predict_classes(pipeline.load_image(raw, 16, TRANSFORM)[None])[0]
        for a in range(len(ds.groups)):
            if ds.test.masks[i, a]:
                counts[a] += 1
                hits[a] += predicted[a] == ds.test.classes[i, a]
    for a, group in enumerate(ds.groups):
        assert report["accuracy"][group.spec] == pytest.approx(hits[a] / counts[a])


def test_the_classifier_trains_and_judges_in_float32_whatever_the_precision(experiment):
    """Under a mixed-precision run the judge is still built, trained and loaded in float32: the same
    weights give the same logits as under float32 (it once crashed on bfloat16 logits in training)."""
    cfg = experiment()
    n_groups = len(datasets.prepare(cfg, sggan_data.labelling).groups)
    reference = classifier.load(cfg["exp_dir"], n_groups)
    images = tf.random.stateless_uniform((6, 16, 16, 3), (1, 2), -1, 1)
    with precision.policy("mixed_bfloat16"):
        model = classifier.load(cfg["exp_dir"], n_groups)
        trainer = classifier.ClassifierTrainer(classifier.build(n_groups, 16), 1e-3, seed=0, max_shift=1)
        loss = trainer.step(images, tf.zeros((6, n_groups), tf.int64), tf.ones((6, n_groups)))
        logits = model._logits(images)
    assert np.isfinite(loss.numpy()) and logits.dtype == tf.float32
    np.testing.assert_array_equal(logits.numpy(), reference._logits(images).numpy())


def test_metrics_json_holds_both_judges(experiment, capsys):
    cfg = experiment("--mode", "test")
    runs.test(cfg, local_context())
    report = json.load(open(os.path.join(cfg["exp_dir"], "test", "metrics.json")))
    assert set(report["critic"]) == {g for g in cfg["attributes"]}
    outputs = report["classifier"]["outputs"]
    order = ["Male", "not Male", "Smiling", "not Smiling", "Blond Hair", "Black Hair", "Wearing Lipstick",
             "not Wearing Lipstick"]
    assert report["classifier"]["output_order"] == order and set(outputs) == set(order)
    for f in outputs.values():
        assert 0.0 <= f["success"] <= 1.0 and 0.0 <= f["preservation"] <= 1.0 and isinstance(f["collapsed"], bool)
    assert set(report["classifier"]["accuracy_real"]) == set(report["critic"])
    table = capsys.readouterr().out
    assert table.index("attribute classifier") < table.index("critic's own figures")


def test_without_a_classifier_metrics_say_so(experiment, tmp_path, capsys):
    import shutil
    bare = tmp_path / "bare"
    shutil.copytree(experiment()["exp_dir"], bare, ignore=shutil.ignore_patterns("classifier"))
    runs.test(experiment("--mode", "test", "--exp_dir", bare), local_context())
    report = json.load(open(bare / "test" / "metrics.json"))
    assert report["classifier"] is None and "--mode classifier" in report["classifier_note"]
    assert "no attribute classifier" in capsys.readouterr().out


def test_classifier_gradient_penalty_of_a_linear_critic():
    """For margins linear in the image, the penalty is Σ over groups of the squared weight norm."""
    from sggan.models.sggan import losses
    rng = np.random.default_rng(1)
    weights = tf.constant(rng.normal(size=(GROUPS, SIZE, SIZE, 3)), tf.float32)

    def critic(images):
        margins = tf.einsum("bhwc,ghwc->bg", images, weights)
        return None, [tf.stack([tf.zeros_like(margins[:, a]), margins[:, a]], -1) for a in range(GROUPS)]
    images = tf.constant(rng.normal(size=(3, SIZE, SIZE, 3)), tf.float32)
    penalty = losses.classifier_gradient_penalty(critic, images).numpy()
    assert penalty == pytest.approx(np.full(3, float(tf.reduce_sum(weights ** 2))), rel=1e-5)


@pytest.mark.parametrize("upsampling", ["deconv", "resize"])
def test_identity_init_starts_as_an_exact_copy_without_speckle(upsampling):
    """With identity_init every output starts as tanh(input): no random-feature noise (the speckle)."""
    from sggan.models.sggan import networks
    from sggan.models.sggan.outputs import output_layout
    from sggan.data.attribute_groups import Group
    keras.utils.set_random_seed(0)
    cfg = dict(ngf=8, n_blocks=1, image_size=16, ndf=4, d_layers=2, no_sp=True, identity_init=True,
               upsampling=upsampling)
    generator, _ = networks.build(cfg, output_layout([Group(f"A{i}", "single", (f"A{i}",)) for i in range(4)]))
    images = tf.random.uniform((3, 16, 16, 3), -1, 1, seed=1)
    for output in generator(images):
        np.testing.assert_allclose(output.numpy(), np.tanh(images.numpy()), atol=1e-5)


def test_periodic_evaluation_reports_the_classifier(experiment, capsys):
    """Training with a classifier in the experiment logs its verdict every --eval_every."""
    cfg = experiment("--max_iters", "4")
    runs.train(cfg, local_context())
    rows = [json.loads(line) for line in open(os.path.join(cfg["exp_dir"], "losses.jsonl"))]
    judged = [r for r in rows if "judge/success_needed" in r]
    # resumed at 2 with --eval_every 2: judged after iteration 4 only, logged as step 3
    assert [r["step"] for r in judged] == [3] and 0.0 <= judged[0]["judge/preservation"] <= 1.0
    assert "classifier: success where needed Male" in capsys.readouterr().out


def test_identity_share_of_identity_fixed_and_recoloured_outputs():
    rng = np.random.default_rng(3)
    inputs = rng.uniform(-1, 1, (20, 32, 32, 3)).astype(np.float32)
    assert judge.identity_share(inputs, inputs) == 1.0
    assert judge.identity_share(0.5 * inputs - 0.2, inputs) == 1.0  # brightness and contrast do not count
    fixed = np.repeat(inputs[3:4], len(inputs), 0)  # one image whatever the input: only input 3 matches
    assert judge.identity_share(fixed, inputs) == pytest.approx(1 / 20)
    shuffled = inputs[np.r_[1:20, 0]]  # every output is another input's picture
    assert judge.identity_share(shuffled, inputs) == 0.0


def test_identity_codes_area_resize_by_hand():
    image = np.zeros((1, 4, 4, 3))
    image[0, :2, :2] = 1.0  # top-left quarter white
    codes = judge.identity_codes(image, side=2).reshape(2, 2)
    assert codes[0, 0] > 0 and codes[0, 1] == codes[1, 0] == codes[1, 1] < 0
    assert codes.mean() == pytest.approx(0.0) and codes.std() == pytest.approx(1.0)
    assert judge.area_matrix(3, 2) == pytest.approx(np.array([[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]]))


def test_k_class_classifier_predicts_one_class_per_group_and_reports_recalls():
    model = classifier.build([4, 2], 16)
    assert [tuple(l.shape) for l in model(tf.zeros((3, 16, 16, 3)))] == [(3, 4), (3, 2)]
    predicted = model.predict_classes(tf.random.stateless_uniform((5, 16, 16, 3), (1, 2), -1, 1))
    assert predicted.shape == (5, 2) and predicted[:, 0].max() < 4 and predicted[:, 1].max() < 2
    classes = np.array([[0, 0], [0, 1], [1, 1], [3, 0], [2, 0]])
    masks = np.array([[1, 1], [1, 1], [1, 1], [1, 1], [0, 1]], np.float32)
    guess = np.array([[0, 0], [1, 1], [1, 0], [3, 0], [0, 0]])
    recalls, balanced = classifier.class_accuracy(guess, classes, masks, [4, 2])
    assert recalls[0][:2] == [0.5, 1.0] and np.isnan(recalls[0][2]) and recalls[0][3] == 1.0  # class 2 unlabelled
    assert balanced[0] == pytest.approx(2.5 / 3) and recalls[1] == [1.0, 0.5] and balanced[1] == 0.75
    weights = classifier.balanced_weights(classes, masks, [4, 2])
    assert weights[0] == pytest.approx([4 / 8, 4 / 4, 1.0, 4 / 4])  # 2, 1, 0, 1 labelled rows of 4


def test_a_run_whose_outputs_collapse_is_warned_at_once(demo_dir, tmp_path, capsys, monkeypatch):
    """The integrity check runs in every periodic evaluation, classifier or not: a generator whose
    outputs are one fixed image each is named at the iteration, and logged for TensorBoard/losses.jsonl."""
    fixed = tf.random.stateless_uniform((1, 16, 16, 3), (1, 2), -1, 1)

    def collapsed(self, batch):
        return [tf.repeat(fixed, tf.shape(batch)[0], 0) for _ in self.outputs]
    monkeypatch.setattr(evaluation.Evaluator, "_generate", collapsed)
    cfg = make_cfg("--data_dir", demo_dir, "--exp_dir", tmp_path / "exp", *TINY, "--max_iters", "2",
                   "--attributes", "Male")
    runs.train(cfg, local_context())
    out = capsys.readouterr().out
    assert "warning: after iteration 1, outputs collapsed to one face whatever the input" in out
    assert "Male, not Male" in out
    rows = [json.loads(line) for line in open(os.path.join(cfg["exp_dir"], "losses.jsonl"))]
    logged = [r for r in rows if "integrity/collapsed_outputs" in r]
    assert [r["integrity/collapsed_outputs"] for r in logged] == [2, 2]  # after iterations 1 and 2
    assert all(r["integrity/spread/Male"] == 0.0 for r in logged)


def test_integrity_of_identity_and_fixed_outputs():
    inputs = np.random.default_rng(3).uniform(-1, 1, (12, 8, 8, 3))
    assert judge.integrity(inputs, inputs) == {"spread_ratio": 1.0, "collapsed": False, "identity": 1.0,
                                               "identity_lost": False}
    fixed = np.repeat(inputs[:1], 12, 0)
    figures = judge.integrity(fixed, inputs)
    assert figures["collapsed"] and figures["identity_lost"] and figures["identity"] == pytest.approx(1 / 12)
