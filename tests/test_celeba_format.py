"""The attribute-file parser on real-format rows and on the copies found in the wild."""
import numpy as np
import pytest

from sggan.data import attribute_groups, celeba
from sggan.data.demo_faces import CELEBA_ATTRIBUTES
from sggan.errors import UserError

HEADER = " ".join(CELEBA_ATTRIBUTES) + " "
ROW_1 = ("000001.jpg -1  1  1 -1 -1 -1 -1 -1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1  1  1 -1  1 -1 -1  1 -1 -1  1 "
         "-1 -1 -1  1  1 -1  1 -1  1 -1 -1  1")
ROW_7 = ("000007.jpg 1 -1  1  1 -1 -1  1  1  1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1 -1  1 -1 -1 -1  1 -1 -1  1 "
         "-1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1  1")


def write(tmp_path, text, name="list_attr_celeba.txt", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return str(path)


def test_real_rows_parse_by_whitespace(tmp_path):
    table = celeba.parse_attribute_txt(write(tmp_path, f"2\n{HEADER}\n{ROW_1}\n{ROW_7}\n"))
    assert table.files == ["000001.jpg", "000007.jpg"]
    assert table.names == list(CELEBA_ATTRIBUTES)
    assert table.values.shape == (2, 40)
    # 000001: Brown_Hair (11), High_Cheekbones (19), Smiling (31), Wearing_Lipstick (36), Young (39).
    assert table.values[0, 11] == 1 and table.values[0, 31] == 1 and table.values[0, 36] == 1
    assert table.values[0, 20] == -1  # not Male
    # 000007: 5_o_Clock_Shadow (0) and Black_Hair (8) and Male (20).
    assert table.values[1, 0] == 1 and table.values[1, 8] == 1 and table.values[1, 20] == 1
    assert table.values[1, 31] == -1


def test_crlf_gives_the_same_table(tmp_path):
    text = f"2\n{HEADER}\n{ROW_1}\n{ROW_7}\n"
    lf = celeba.parse_attribute_txt(write(tmp_path, text, "a.txt"))
    crlf = celeba.parse_attribute_txt(write(tmp_path, text, "b.txt", newline="\r\n"))
    assert crlf.files == lf.files and np.array_equal(crlf.values, lf.values)


def test_header_count_mismatch_warns_and_uses_rows(tmp_path, capsys):
    table = celeba.parse_attribute_txt(write(tmp_path, f"202599\n{HEADER}\n{ROW_1}\n{ROW_7}\n"))
    assert len(table.files) == 2
    assert "declares 202599 images but holds 2 rows" in capsys.readouterr().err


def test_csv_variant(tmp_path):
    rows = [r.split() for r in (ROW_1, ROW_7)]
    text = "image_id," + ",".join(CELEBA_ATTRIBUTES) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    table = celeba.parse_attribute_csv(write(tmp_path, text, "list_attr_celeba.csv"))
    txt = celeba.parse_attribute_txt(write(tmp_path, f"2\n{HEADER}\n{ROW_1}\n{ROW_7}\n"))
    assert table.files == txt.files and np.array_equal(table.values, txt.values)


def test_read_attributes_finds_the_csv(tmp_path):
    rows = [r.split() for r in (ROW_1,)]
    write(tmp_path, "image_id," + ",".join(CELEBA_ATTRIBUTES) + "\n" + ",".join(rows[0]) + "\n",
          "list_attr_celeba.csv")
    assert celeba.read_attributes(str(tmp_path)).files == ["000001.jpg"]


def test_row_with_wrong_count_names_file_and_line(tmp_path):
    path = write(tmp_path, f"2\n{HEADER}\n{ROW_1}\n{ROW_7.rsplit(' ', 1)[0]}\n")
    with pytest.raises(UserError, match=r"list_attr_celeba.txt line 4: expected a file name and 40 values, found 39"):
        celeba.parse_attribute_txt(path)


def test_value_other_than_plus_minus_one_names_file_and_line(tmp_path):
    path = write(tmp_path, f"2\n{HEADER}\n{ROW_1}\n{ROW_7.replace(' -1', '  0', 1)}\n")
    with pytest.raises(UserError, match=r"line 4: attribute values must be 1 or -1, found '0' for Arched_Eyebrows"):
        celeba.parse_attribute_txt(path)


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        celeba.read_attributes(str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="no attribute file"):
        celeba.read_attributes(str(tmp_path))


def test_group_notation_and_suggestions():
    names = list(CELEBA_ATTRIBUTES)
    hair = attribute_groups.parse_group("Black_Hair/Blond_Hair-Brown_Hair", names)
    assert (hair.columns, hair.exclude, hair.of_names) == (("Black_Hair", "Blond_Hair"), ("Brown_Hair",), True)
    assert hair.class_names == ("Black_Hair", "Blond_Hair")
    with pytest.raises(UserError, match="did you mean Smiling"):
        attribute_groups.parse_group("Smilling", names)
    with pytest.raises(UserError, match="not of the form"):
        attribute_groups.parse_group("Male/Male", names)
    with pytest.raises(UserError, match="not of the form"):
        attribute_groups.parse_group("Black_Hair//Blond_Hair", names)


def test_hair_rule_is_the_originals():
    names = list(CELEBA_ATTRIBUTES)
    col = {n: i for i, n in enumerate(names)}
    values = -np.ones((5, 40), dtype=np.int8)
    values[0, col["Black_Hair"]] = 1                                # black → class 0
    values[1, col["Blond_Hair"]] = 1                                # blond → class 1
    values[2, [col["Black_Hair"], col["Brown_Hair"]]] = 1           # black and brown → unlabelled
    values[3, [col["Black_Hair"], col["Blond_Hair"]]] = 1           # both → black wins
    table = celeba.AttributeTable("x", names, [f"{i}.jpg" for i in range(5)], values)  # 4: none → unlabelled
    classes, known = attribute_groups.parse_group("Black_Hair/Blond_Hair-Brown_Hair", names).labels(table)
    assert known.tolist() == [True, True, False, True, False]
    assert classes.tolist() == [0, 1, 0, 0, 0]
