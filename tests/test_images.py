"""Grid headers: titles wrap at spaces, never inside a word; a smaller font when a word is too wide."""
import numpy as np
import pytest

from sggan import images

TITLES = ["input", "Smiling", "not Smiling", "Black Hair", "Wearing Lipstick", "age 20-39"]


@pytest.mark.parametrize("tile", [16, 32, 64, 128])
def test_header_lines_keep_every_word_whole(tile):
    font = images.header_font(TITLES, tile)
    wrapped = images.header_lines(TITLES, tile, font)
    for title, lines in zip(TITLES, wrapped):
        assert " ".join(lines) == title  # only spaces became line breaks
        for line in lines:
            assert font.getlength(line) <= tile or " " not in line  # a line of one word may not shrink further


def test_a_word_too_wide_for_the_largest_font_gets_a_smaller_one():
    large, small = images.header_font(["Smiling"], 128), images.header_font(["Smiling"], 32)
    assert small.size < large.size and small.getlength("Smiling") <= 32
    assert images.header_lines(["Wearing Lipstick"], 32, small) == [["Wearing", "Lipstick"]]


def test_grid_keeps_its_tiles_below_the_header():
    columns = [np.full((2, 32, 32, 3), v, np.float32) for v in (-1.0, 1.0)]
    picture = images.grid(columns, ["Smiling", "Wearing Lipstick"])
    assert picture.shape[1:] == (64, 3) and (picture.shape[0] - 64) > 0
    np.testing.assert_array_equal(picture[-64:, :32], 0)
    np.testing.assert_array_equal(picture[-64:, 32:], 255)
