"""What VAC+GAN takes from the shared data code: its original's crop of the 178 x 218 CelebA images
(rows 45..172, columns 25..152) with cv2.resize's plain bilinear resize, and its labelling (every
attribute of every image)."""
from sggan.data import splits
from sggan.data.pipeline import Transform

TRANSFORM = Transform(crop=(45, 25, 128, 128), pil_resize=False)


def labelling(cfg, table, groups, train_rows, test_rows):
    """Every attribute of every image, all labelled."""
    return splits.attribute_list(table, train_rows), splits.attribute_list(table, test_rows)
