"""Image grids with a header naming the columns, and image file I/O."""
import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from sggan.files import replaced_atomically

# Header font sizes, largest first (PIL's built-in font): smaller ones serve columns too narrow for
# a word of a title.
HEADER_SIZES = (10, 9, 8, 7, 6, 5)


def to_uint8(images):
    """Model range [-1, 1] → uint8 [0, 255]."""
    return np.clip((np.asarray(images) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def header_font(titles, tile):
    """The largest header font in which every word of every title fits a column (the smallest if none)."""
    words = [word for title in titles for word in title.split()]
    for size in HEADER_SIZES:
        font = ImageFont.load_default(size=size)
        if all(font.getlength(word) <= tile - 3 for word in words):
            break
    return font


def line_height(font):
    """Pixels per header line of a font."""
    return font.getbbox("Ag")[3] + 1


def header_lines(titles, tile, font):
    """Each column title wrapped at spaces to the tile's width in `font`: words are never broken."""
    wrapped = []
    for title in titles:
        lines = []
        for word in title.split():
            if lines and font.getlength(f"{lines[-1]} {word}") <= tile - 3:
                lines[-1] += f" {word}"
            else:
                lines.append(word)
        wrapped.append(lines or [""])
    return wrapped


def grid(columns, titles, row_labels=None):
    """A grid image: columns[c] is a [rows, H, W, 3] array in [-1, 1]; a header names each column.

    Returns uint8 [header + rows·H, (label +) cols·W, 3]. Every tile keeps its exact size.
    """
    columns = [to_uint8(c) for c in columns]
    rows, size = columns[0].shape[0], columns[0].shape[1]
    font = header_font(titles, size)
    wrapped, step = header_lines(titles, size, font), line_height(font)
    header = step * max(len(w) for w in wrapped) + 4
    label_width = 0
    if row_labels:
        label_width = 6 * max(len(label) for label in row_labels) + 6
    canvas = Image.new("RGB", (label_width + size * len(columns), header + size * rows), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, lines in enumerate(wrapped):
        for i, line in enumerate(lines):
            draw.text((label_width + c * size + 1, 2 + i * step), line, fill=(0, 0, 0), font=font)
    label_font = ImageFont.load_default()
    for r in range(rows):
        if row_labels:
            draw.text((2, header + r * size + size // 2 - 5), row_labels[r], fill=(0, 0, 0), font=label_font)
        for c, column in enumerate(columns):
            canvas.paste(Image.fromarray(column[r]), (label_width + c * size, header + r * size))
    return np.asarray(canvas)


def save(array, path):
    """Write a uint8 image atomically (JPEG or PNG by extension)."""
    with replaced_atomically(path) as tmp:
        iio.imwrite(tmp, array)


def load_photo(path):
    """Any image file → RGB uint8 array, upright as the camera's EXIF orientation says; None when the
    file is not a readable image. 16-bit images are scaled to 8 bits (PIL alone would clip them).

    Read with PIL itself rather than imageio: the mode conversions below need PIL's image modes."""
    try:
        with Image.open(path) as image:
            return as_rgb8(ImageOps.exif_transpose(image))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def as_rgb8(image):
    """A PIL image as an RGB uint8 array; 16- and 32-bit integer images are scaled, not clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        grey = np.clip(np.round(pixels * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"))
