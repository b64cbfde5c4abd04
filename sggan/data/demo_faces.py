"""A procedural, CelebA-shaped demo dataset: cartoon faces whose attributes are visible.

Writes <folder>/img_align_celeba/NNNNNN.jpg (178 x 218 JPEG), list_attr_celeba.txt in the exact
CelebA layout (all 40 columns), list_eval_partition.txt and the drawing's version. Gender (brows,
jaw, beard or stubble; hair length goes with gender, but not always), smile (curved open mouth),
hair colour (black / blond / brown / grey) and lipstick (red lips) are drawn; pose, face size, skin
and background vary. Same seed and count → byte-identical files.
"""
import io
import os
import shutil
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from sggan.errors import UserError

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
    "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
    "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()

# Bumped whenever the drawing changes; a folder of another version is not silently reused.
VERSION = 2
VERSION_FILE = "demo_faces_version.txt"
WIDTH, HEIGHT = 178, 218
HAIR_COLOURS = {"Black_Hair": (25, 22, 24), "Blond_Hair": (235, 205, 120),
                "Brown_Hair": (115, 72, 40), "Gray_Hair": (170, 170, 175), None: (80, 50, 30)}
SKIN_TONES = ((250, 218, 190), (236, 192, 160), (210, 160, 120), (170, 120, 85), (120, 80, 55))
# Base rates of the attributes that are not drawn, roughly CelebA's.
BASE_RATES = {"Attractive": 0.51, "Arched_Eyebrows": 0.27, "Bags_Under_Eyes": 0.2, "Big_Lips": 0.24,
              "Big_Nose": 0.23, "Blurry": 0.05, "Bushy_Eyebrows": 0.14, "Chubby": 0.06,
              "Double_Chin": 0.05, "High_Cheekbones": 0.45, "Narrow_Eyes": 0.12, "Oval_Face": 0.28,
              "Pointy_Nose": 0.28, "Receding_Hairline": 0.08, "Rosy_Cheeks": 0.07, "Sideburns": 0.06,
              "Straight_Hair": 0.21, "Wavy_Hair": 0.32, "Wearing_Earrings": 0.19, "Wearing_Hat": 0.05,
              "Wearing_Necklace": 0.12, "Wearing_Necktie": 0.07, "Young": 0.77}


def draw_attributes(rng):
    """One face's 40 attributes (dict name → bool), with CelebA-like correlations."""
    a = {name: rng.random() < rate for name, rate in BASE_RATES.items()}
    male = rng.random() < 0.42
    a["Male"] = male
    a["Smiling"] = rng.random() < 0.48
    a["Mouth_Slightly_Open"] = a["Smiling"] and rng.random() < 0.8
    a["Wearing_Lipstick"] = rng.random() < (0.03 if male else 0.8)
    a["Heavy_Makeup"] = a["Wearing_Lipstick"] and rng.random() < 0.7
    a["Bald"] = male and rng.random() < 0.06
    hair = None
    if not a["Bald"]:
        p_blond = 0.04 if male else 0.28
        hair = rng.choice(["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "none"],
                          p=[0.3, p_blond, 0.25, 0.05, 0.4 - p_blond])
        hair = None if hair == "none" else str(hair)
    for name in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"):
        a[name] = hair == name
    a["Young"] = a["Young"] and not a["Gray_Hair"]
    beard = male and rng.random() < 0.3
    a["No_Beard"] = not beard
    a["Goatee"] = beard and rng.random() < 0.4
    a["Mustache"] = beard and rng.random() < 0.4
    a["5_o_Clock_Shadow"] = male and not beard and rng.random() < 0.5
    a["Eyeglasses"] = rng.random() < 0.07
    a["Pale_Skin"] = rng.random() < 0.05
    a["Bangs"] = hair is not None and not male and rng.random() < 0.3
    return {name: bool(a[name]) for name in CELEBA_ATTRIBUTES}


def draw_face(rng, attrs):
    """Render one face; returns the PIL image and boxes of its mouth and of a patch of hair."""
    background = tuple(int(c) for c in rng.integers(40, 230, 3))
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    # Head geometry, varied by position and size (pose).
    cx = WIDTH / 2 + rng.normal(0, 6)
    cy = 118 + rng.normal(0, 5)
    fw = rng.uniform(34, 44) * (1.08 if attrs["Male"] else 1.0)
    fh = fw * rng.uniform(1.22, 1.36)
    skin = SKIN_TONES[0] if attrs["Pale_Skin"] else SKIN_TONES[int(rng.integers(0, len(SKIN_TONES)))]
    skin = tuple(int(np.clip(c + rng.normal(0, 6), 0, 255)) for c in skin)
    hair = HAIR_COLOURS[next((h for h in HAIR_COLOURS if h and attrs[h]), None)]
    hair = tuple(int(np.clip(c + rng.normal(0, 8), 0, 255)) for c in hair)
    # Shoulders / clothes.
    cloth = tuple(int(c) for c in rng.integers(20, 200, 3))
    draw.ellipse((cx - 80, cy + fh * 0.95, cx + 80, cy + fh * 0.95 + 120), fill=cloth)
    draw.rectangle((cx - fw * 0.35, cy + fh * 0.7, cx + fw * 0.35, cy + fh * 1.05), fill=skin)  # neck
    # Hair length goes with gender as in real photos, not always: some women wear short hair and
    # some men long hair, so that gender is also read from the face itself.
    long_hair = rng.random() < (0.1 if attrs["Male"] else 0.8)
    if not attrs["Bald"]:
        if long_hair:  # falls behind the face to the shoulders
            draw.rounded_rectangle((cx - fw * 1.35, cy - fh * 1.15, cx + fw * 1.35, cy + fh * 1.25),
                                   radius=int(fw), fill=hair)
        else:  # short hair: a cap just above the face
            draw.ellipse((cx - fw * 1.08, cy - fh * 1.12, cx + fw * 1.08, cy + fh * 0.2), fill=hair)
    draw.ellipse((cx - fw, cy - fh, cx + fw, cy + fh), fill=skin)
    if attrs["Male"]:  # a square jaw
        draw.rounded_rectangle((cx - fw * 0.92, cy, cx + fw * 0.92, cy + fh * 0.98), radius=int(fw * 0.35),
                               fill=skin)
    if attrs["Bangs"]:
        draw.chord((cx - fw, cy - fh * 1.02, cx + fw, cy - fh * 0.25), 180, 360, fill=hair)
    if not attrs["No_Beard"] or attrs["5_o_Clock_Shadow"]:
        shade = hair if not attrs["No_Beard"] else tuple(int(c * 0.75) for c in skin)
        draw.chord((cx - fw * 0.95, cy + fh * 0.05, cx + fw * 0.95, cy + fh), 0, 180, fill=shade)
    _draw_eyes(draw, rng, cx, cy, fw, fh, attrs, hair)
    mouth = _draw_mouth(draw, cx, cy, fw, fh, skin, attrs)
    draw.line((cx, cy - fh * 0.05, cx - fw * 0.1, cy + fh * 0.22, cx, cy + fh * 0.25),
              fill=tuple(int(c * 0.7) for c in skin), width=2)  # nose
    angle = rng.normal(0, 4)
    image = image.rotate(angle, resample=Image.BILINEAR, center=(cx, cy), fillcolor=background)
    image = image.filter(ImageFilter.GaussianBlur(0.7))
    noise = rng.normal(0, 4, (HEIGHT, WIDTH, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    hair_box = tuple(int(v) for v in (cx - fw * 0.3, cy - fh * 1.09, cx + fw * 0.3, cy - fh * 1.03))
    return Image.fromarray(pixels), {"mouth": mouth, "hair": hair_box}


def _draw_eyes(draw, rng, cx, cy, fw, fh, attrs, hair):
    eye_y, dx = cy - fh * 0.18, fw * 0.42
    for side in (-1, 1):
        ex = cx + side * dx
        draw.ellipse((ex - 8, eye_y - 4, ex + 8, eye_y + 4), fill=(250, 250, 250))
        draw.ellipse((ex - 3.5, eye_y - 3.5, ex + 3.5, eye_y + 3.5), fill=(40, 30, 20))
        brow = (ex - 11, eye_y - 15, ex + 11, eye_y - 8) if attrs["Male"] else (ex - 9, eye_y - 13, ex + 9, eye_y - 11)
        draw.rectangle(brow, fill=tuple(int(c * 0.6) for c in hair))
        if attrs["Eyeglasses"]:
            draw.ellipse((ex - 12, eye_y - 9, ex + 12, eye_y + 9), outline=(10, 10, 10), width=2)


def _draw_mouth(draw, cx, cy, fw, fh, skin, attrs):
    my, half = cy + fh * 0.5, fw * 0.42
    lips = (205, 20, 45) if attrs["Wearing_Lipstick"] else tuple(int(c * 0.78) for c in skin)
    box = (cx - half, my - 8, cx + half, my + 10)
    if attrs["Smiling"]:  # an open, upward-curved mouth with teeth
        draw.chord((cx - half, my - 14, cx + half, my + 12), 0, 180, fill=lips)
        draw.chord((cx - half * 0.75, my - 8, cx + half * 0.75, my + 6), 0, 180, fill=(245, 245, 240))
    else:  # closed lips, a straight line between them
        draw.ellipse((cx - half * 0.8, my - 5, cx + half * 0.8, my + 5), fill=lips)
        draw.line((cx - half * 0.8, my, cx + half * 0.8, my), fill=(60, 25, 25), width=1)
    return tuple(int(v) for v in box)


def attribute_line(name, attrs):
    """One list_attr_celeba.txt row: values right-aligned in two characters, one space apart."""
    values = ["1" if attrs[a] else "-1" for a in CELEBA_ATTRIBUTES]
    return f"{name} {values[0]}" + "".join(f" {v:>2}" for v in values[1:])


def generate(folder, count=4000, seed=0, quality=90):
    """Write the demo dataset into `folder` atomically (built beside it, then renamed)."""
    tmp = folder.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    images = os.path.join(tmp, "img_align_celeba")
    os.makedirs(images)
    rng = np.random.default_rng(seed)
    rows, partition = [], []
    n_train, n_val = int(count * 0.8), int(count * 0.1)
    for i in range(count):
        name = f"{i + 1:06d}.jpg"
        attrs = draw_attributes(rng)
        image, _ = draw_face(rng, attrs)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        with open(os.path.join(images, name), "wb") as f:
            f.write(buffer.getvalue())
        rows.append(attribute_line(name, attrs))
        partition.append(f"{name} {0 if i < n_train else 1 if i < n_train + n_val else 2}")
    with open(os.path.join(tmp, "list_attr_celeba.txt"), "w") as f:
        f.write(f"{count}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n" + "\n".join(rows) + "\n")
    with open(os.path.join(tmp, "list_eval_partition.txt"), "w") as f:
        f.write("\n".join(partition) + "\n")
    with open(os.path.join(tmp, VERSION_FILE), "w") as f:
        f.write(f"{VERSION}\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def ensure(folder, count=4000, seed=0):
    """Generate the demo dataset on first use; return its folder. A folder drawn by another version
    of this module is refused (never deleted: it might hold the user's own data)."""
    if not os.path.isfile(os.path.join(folder, "list_attr_celeba.txt")):
        print(f"generating the demo dataset ({count} faces) in {folder} …", file=sys.stderr, flush=True)
        generate(folder, count, seed)
    elif _version(folder) != VERSION:
        raise UserError(f"{folder} holds demo faces of another drawing version; delete the folder (the demo "
                        f"regenerates it) or run scripts/make_demo_data.py --out {folder}")
    return folder


def _version(folder):
    try:
        with open(os.path.join(folder, VERSION_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
