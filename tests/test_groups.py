"""Many-valued groups: notation, labels, output layout, losses, a tiny run and its dry-run counts."""
import json
import os

import config
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sggan.data import attribute_groups, celeba, splits
from sggan.data.demo_faces import CELEBA_ATTRIBUTES
from sggan.errors import UserError
from sggan.models.sggan import losses, networks, runs
from sggan.models.sggan.outputs import output_layout
from sggan.models.sggan.steps import SGGANTask
from sggan.training.distribute import local_context
from tests.helpers import TINY, classifier_report_by_hand, make_cfg

NAMES = list(CELEBA_ATTRIBUTES)
HAIR4 = "Black_Hair/Blond_Hair/Brown_Hair/Gray_Hair"


def table_with(rows, names=NAMES):
    """A CelebA-like table: rows is a list of sets of the attributes set to +1."""
    values = -np.ones((len(rows), len(names)), np.int8)
    for i, on in enumerate(rows):
        values[i, [names.index(n) for n in on]] = 1
    return celeba.AttributeTable("x", names, [f"{i}.jpg" for i in range(len(rows))], values)


def test_several_names_label_only_images_with_exactly_one_set():
    group = attribute_groups.parse_group(HAIR4 + "-Bald", NAMES)
    assert (group.n_classes, group.of_names, group.class_names) == (4, True, tuple(HAIR4.split("/")))
    table = table_with([{"Black_Hair"}, {"Gray_Hair"}, {"Black_Hair", "Blond_Hair"}, set(),
                        {"Brown_Hair", "Bald"}, {"Brown_Hair"}])
    classes, known = group.labels(table)
    assert known.tolist() == [True, True, False, False, False, True]
    assert classes[known].tolist() == [0, 3, 2]


def test_two_names_keep_the_original_rule():
    classes, known = attribute_groups.parse_group("Black_Hair/Blond_Hair", NAMES).labels(
        table_with([{"Black_Hair", "Blond_Hair"}, {"Blond_Hair"}]))
    assert known.tolist() == [True, True] and classes.tolist() == [0, 1]


def test_bins_on_a_numeric_column():
    table = celeba.AttributeTable("x", ["age"], [f"{i}" for i in range(6)],
                                  np.array([[0], [19], [20], [45], [60], [99]], np.int32))
    group = attribute_groups.parse_group("age=0-19,20-39,60-", ["age"])
    assert group.class_names == ("age 0-19", "age 20-39", "age 60-") and not group.of_names
    classes, known = group.labels(table)
    assert known.tolist() == [True, True, True, False, True, True]
    assert classes[known].tolist() == [0, 0, 1, 2, 2]


@pytest.mark.parametrize("spec, fragment", [
    ("age=0-19", "at least two bins"), ("age=0-30,20-", "overlap"), ("age=a-b,3", "not LOW-HIGH"),
    ("age=9-3,10-", "ends before"), ("agee=0-1,2-", "did you mean age"),
])
def test_bad_bins_are_refused(spec, fragment):
    with pytest.raises(UserError, match=fragment):
        attribute_groups.parse_group(spec, ["age"])


def test_output_layout_binary_unchanged_and_three_classes_in_class_order():
    groups = [attribute_groups.parse_group(s, NAMES) for s in ("Male", "Black_Hair/Blond_Hair-Brown_Hair",
                                                     "Black_Hair/Blond_Hair/Brown_Hair")]
    layout = [(o.index, o.group, o.target, o.partners, o.title) for o in output_layout(groups)]
    assert layout == [(0, 0, 1, (1,), "Male"), (1, 0, 0, (0,), "not Male"),
                      (2, 1, 1, (3,), "Blond Hair"), (3, 1, 0, (2,), "Black Hair"),
                      (4, 2, 0, (5, 6), "Black Hair"), (5, 2, 1, (4, 6), "Blond Hair"),
                      (6, 2, 2, (4, 5), "Brown Hair")]


def tiny_task(specs):
    cfg = dict(config.SETTINGS, ngf=4, n_blocks=1, image_size=16, ndf=4, d_layers=2, no_sp=True,
               identity_init=False, seed=0, batch_size=2)
    groups = [attribute_groups.parse_group(s, NAMES) for s in specs]
    outputs = output_layout(groups)
    generator, discriminator = networks.build(cfg, outputs)
    return SGGANTask(cfg, generator, discriminator, outputs, len(groups), local_context().strategy)


def test_reconstruction_pairs_each_output_with_the_rest_of_its_group():
    task = tiny_task(["Male", HAIR4[:HAIR4.rindex("/")]])  # 2 + 3 outputs
    g = task.generator
    x = tf.random.stateless_uniform((2, 16, 16, 3), (1, 2), -1, 1)
    fakes = g(x)

    def l1(k, j):
        return losses.l1(fakes[k], g.head(k, g.trunk(fakes[j]), fakes[j])).numpy()
    terms = [l1(0, 1), l1(1, 0)] + [(l1(k, j1) + l1(k, j2)) / 2 for k, j1, j2 in ((2, 3, 4), (3, 2, 4), (4, 2, 3))]
    expected = np.mean(np.sum(terms, 0) / 5)
    np.testing.assert_allclose(task._reconstruction(fakes, x)[0].numpy(), expected, rtol=1e-5)


def test_critic_has_a_k_way_head_per_group():
    task = tiny_task(["Male", HAIR4])
    _, logits = task.discriminator(tf.zeros((3, 16, 16, 3)))
    assert [tuple(lg.shape) for lg in logits] == [(3, 2), (3, 4)]
    assert len(task.generator.heads) == 6


def test_three_class_group_trains_and_its_grid_has_a_column_per_class(demo_dir, tmp_path):
    cfg = make_cfg("--data_dir", demo_dir, "--exp_dir", tmp_path / "exp", *TINY, "--max_iters", "2",
                   "--attributes", "Male", "Black_Hair/Blond_Hair/Brown_Hair")
    keras.utils.set_random_seed(0)
    runs.train(cfg, local_context())
    with open(os.path.join(cfg["exp_dir"], "losses.jsonl")) as f:
        logged = [json.loads(line) for line in f if line.strip()]
    assert logged and all(np.isfinite(v) for row in logged for k, v in row.items() if k != "step")
    grid = np.asarray(Image.open(os.path.join(cfg["exp_dir"], "samples", "iter_000001.png")))
    assert grid.shape[1] == 16 * (1 + 2 + 3)


def test_dry_run_counts_for_a_three_class_group(demo_dir, tmp_path):
    base = ["--data_dir", demo_dir, "--exp_dir", tmp_path / "exp", *TINY]
    three = runs.dry_run(make_cfg(*base, "--attributes", "Male", "Black_Hair/Blond_Hair/Brown_Hair"), local_context())
    two = runs.dry_run(make_cfg(*base, "--attributes", "Male", "Black_Hair/Blond_Hair"), local_context())
    table = celeba.read_attributes(demo_dir)
    train_rows, _ = splits.split_rows(table, demo_dir, "partition", 0.1)
    hair = table.values[train_rows][:, [NAMES.index(n) for n in ("Black_Hair", "Blond_Hair", "Brown_Hair")]] == 1
    counts = three["groups"]["Black_Hair/Blond_Hair/Brown_Hair"]
    assert counts["labelled"] == int((hair.sum(1) == 1).sum())
    assert list(counts["classes"].values()) == [int(((hair.sum(1) == 1) & hair[:, c]).sum()) for c in range(3)]
    # One more generator head; the critic's hair head gains one filter over the final 4x4x8 map.
    single_head = two["generator_params"] - runs.dry_run(make_cfg(*base, "--attributes", "Male"), local_context())["generator_params"]
    assert three["generator_params"] - two["generator_params"] == single_head / 2
    assert three["discriminator_params"] - two["discriminator_params"] == 4 * 4 * 8 + 1


def test_the_classifier_judges_a_three_class_group_and_its_report_matches_a_count_by_hand(demo_dir, tmp_path):
    keras.utils.set_random_seed(0)
    cfg = make_cfg("--data_dir", demo_dir, "--exp_dir", tmp_path / "exp", *TINY, "--mode", "classifier",
                   "--classifier_steps", "20", "--attributes", "Male", "Black_Hair/Blond_Hair/Brown_Hair")
    assert runs.train_classifier(cfg, local_context()) == 0
    report = classifier_report_by_hand(cfg)
    assert len(report["per_class_accuracy"]["Black_Hair/Blond_Hair/Brown_Hair"]) == 3
