"""The original's line split and sparse-labelling table, on a full-size (202,599-row) attribute file."""
import numpy as np
import pytest

from sggan.data import attribute_groups, celeba, splits
from sggan.data.demo_faces import CELEBA_ATTRIBUTES
from sggan.errors import UserError

N = 202599
COL = {n: i for i, n in enumerate(CELEBA_ATTRIBUTES)}
GROUPS = ["Male", "Smiling", "Black_Hair/Blond_Hair-Brown_Hair", "Wearing_Lipstick"]


@pytest.fixture(scope="module")
def full_table(tmp_path_factory):
    """A CelebA-sized attribute file with known patterns, parsed by the real parser."""
    rng = np.random.default_rng(0)
    values = np.where(rng.random((N, 40)) < 0.3, 1, -1).astype(np.int8)
    lines = [f"{N}", " ".join(CELEBA_ATTRIBUTES) + " "]
    body = [f"{i + 1:06d}.jpg {row[0]}" + "".join(f" {v:>2}" for v in row[1:]) for i, row in enumerate(values.tolist())]
    path = tmp_path_factory.mktemp("full") / "list_attr_celeba.txt"
    path.write_text("\n".join(lines + body) + "\n")
    table = celeba.parse_attribute_txt(str(path))
    assert np.array_equal(table.values, values)
    return table


def summary(table, sp_type):
    groups = [attribute_groups.parse_group(g, table.names) for g in GROUPS]
    train_rows, test_rows = splits.split_rows(table, ".", "lines", 0.1)
    plan = splits.sparse_plan(sp_type, None, None, 0, len(train_rows))
    return groups, train_rows, test_rows, splits.training_list(table, groups, train_rows, plan)


def test_line_split_is_the_originals(full_table):
    _, train_rows, test_rows, _ = summary(full_table, 0)
    assert len(test_rows) == 4997 and len(train_rows) == 197600
    assert full_table.files[test_rows[0]] == "000003.jpg" and full_table.files[test_rows[-1]] == "004999.jpg"
    assert full_table.files[train_rows[0]] == "005000.jpg" and full_table.files[train_rows[-1]] == "202599.jpg"


@pytest.mark.parametrize("sp_type,single,pair,prefix,times,entries", [
    (0, 197600, 197600, 0, 0, 197600),
    (1, 10000, 30000, 30000, 10, 497600),
    (2, 1000, 3000, 3000, 50, 347600),
])
def test_sp_type_table(full_table, sp_type, single, pair, prefix, times, entries):
    groups, train_rows, _, train = summary(full_table, sp_type)
    assert len(train.files) == entries
    values = full_table.values[train_rows]
    copies = 1 + times
    for a, spec in enumerate(GROUPS):
        mask = train.masks[:, a] > 0
        if spec.startswith("Black"):
            black, blond, brown = (values[:pair, COL[n]] == 1 for n in ("Black_Hair", "Blond_Hair", "Brown_Hair"))
            known = (black | blond) & ~brown
            expected_labelled = int(known.sum())
            expected_pos = int((known & ~black).sum())
        else:
            expected_labelled = single
            expected_pos = int((values[:single, COL[spec]] == 1).sum())
        assert len(np.unique(train.rows[mask])) == expected_labelled
        assert len(np.unique(train.rows[mask & (train.classes[:, a] == 1)])) == expected_pos
        # Oversampled copies carry their masks: labelled prefix entries appear (1 + times) times.
        assert mask.sum() == expected_labelled * copies  # every labelled image lies in the prefix
    # The appended entries are the first `prefix` training images, repeated.
    if times:
        assert train.files[len(train_rows)] == "005000.jpg"
        assert train.files[-1] == full_table.files[train_rows[prefix - 1]]


def test_general_labelled_prefix_and_fraction(full_table):
    groups = [attribute_groups.parse_group(g, full_table.names) for g in GROUPS]
    train_rows, _ = splits.split_rows(full_table, ".", "lines", 0.1)
    plan = splits.sparse_plan(0, 0.05, None, 2, len(train_rows))
    assert plan == splits.SparsePlan(9880, 9880, 9880, 2)
    train = splits.training_list(full_table, groups, train_rows, plan)
    assert len(train.files) == 197600 + 2 * 9880
    assert (train.masks[:, 0] > 0).sum() == 3 * 9880


def test_oversampling_needs_a_prefix():
    with pytest.raises(UserError, match="needs --labelled"):
        splits.sparse_plan(0, None, None, 3, 1000)


def test_small_file_line_split_is_refused_with_advice(full_table):
    small = celeba.AttributeTable("small.txt", full_table.names, full_table.files[:3000], full_table.values[:3000])
    with pytest.raises(UserError, match="use --split fraction or --split partition"):
        splits.split_rows(small, ".", "lines", 0.1)
    train, test = splits.split_rows(small, ".", "fraction", 0.1)
    assert len(test) == 300 and len(train) == 2700
