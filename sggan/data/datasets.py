"""From config to checked PreparedData: the attribute table, groups, split, labelled lists and the image source.

The lists themselves are the model's choice (`labelling`): SG-GAN's sparse group labels, or
VAC+GAN's every attribute of every image.
"""
import os
from dataclasses import dataclass

import numpy as np

from sggan.data import attribute_groups, celeba, demo_faces, pipeline, splits, tfrecord, utkface
from sggan.errors import UserError


@dataclass
class PreparedData:
    table: celeba.AttributeTable
    groups: list
    train: splits.LabelledList
    test: splits.LabelledList
    source: object          # turns a file name into image bytes (see pipeline.FolderSource)
    image_dir: str          # None when the images come from TFRecord shards
    celeba_frame: bool      # images framed as CelebA's aligned 178 x 218 (not so: UTKFace's chips)

    def check_readable(self):
        """Refuse data of which no image can be decoded (see pipeline.check_readable)."""
        pipeline.check_readable(self.source, self.train.files, "training")
        pipeline.check_readable(self.source, self.test.files, "test")

    def summary(self):
        """The dry-run counts: images, entries after oversampling, labelled images per group and per class."""
        groups = {}
        for a, group in enumerate(self.groups):
            labelled = self.train.masks[:, a] > 0
            per_class = {name: int(len(np.unique(self.train.rows[labelled & (self.train.classes[:, a] == c)])))
                         for c, name in enumerate(group.class_names)}
            groups[group.spec] = {"labelled": int(len(np.unique(self.train.rows[labelled]))),
                                  "labelled_entries": int(labelled.sum()), "classes": per_class}
            if group.n_classes == 2:  # the attribute on (class 1)
                groups[group.spec]["positives"] = per_class[group.class_names[1]]
        return {"train_images": int(len(np.unique(self.train.rows))), "train_entries": int(len(self.train.files)),
                "test_images": int(len(self.test.files)), "groups": groups}


def _source(cfg):
    """The attribute table, where image bytes come from (a CelebA or UTKFace image folder, or
    TFRecord shards), the image folder and whether the images are framed as CelebA's."""
    use_shards = cfg["data_format"] == "tfrecord" or (
        cfg["data_format"] == "auto" and os.path.isdir(cfg["data_dir"]) and tfrecord.has_shards(cfg["data_dir"]))
    if use_shards:
        if not tfrecord.has_shards(cfg["data_dir"]):
            raise UserError(f"--data_format tfrecord: no {tfrecord.SHARD_PATTERN} (or the original's "
                            f"{tfrecord.ORIGINAL_SHARD_PATTERN}) in {cfg['data_dir']} "
                            "(write them with scripts/celeba_to_tfrecord.py)")
        table, source = tfrecord.read_shards(cfg["data_dir"])
        return table, source, None, True
    folder = os.path.isdir(cfg["data_dir"]) and utkface.find_folder(cfg["data_dir"], cfg["image_dir"])
    if folder:
        return utkface.read_table(folder), pipeline.FolderSource(folder), folder, False
    table = celeba.read_attributes(cfg["data_dir"])
    image_dir = celeba.find_image_dir(cfg["data_dir"], cfg["image_dir"])
    return table, pipeline.FolderSource(image_dir), image_dir, True


def prepare(cfg, labelling, check_images=True):
    """Everything the models need to know about the data, checked; refuses bad input up front.

    `labelling(cfg, table, groups, train_rows, test_rows)` → (training list, test list) is the
    model's own: which labels its training and test images carry."""
    if cfg["demo"]:
        demo_faces.ensure(cfg["data_dir"])
    table, source, image_dir, celeba_frame = _source(cfg)
    groups = [attribute_groups.parse_group(spec, table.names, table.value_names) for spec in cfg["attributes"]]
    if len({g.spec for g in groups}) != len(groups):
        raise UserError("--attributes lists the same group twice")
    train_rows, test_rows = splits.split_rows(table, cfg["data_dir"], cfg["split"], cfg["test_fraction"])
    train, test = labelling(cfg, table, groups, train_rows, test_rows)
    if check_images and image_dir:
        missing = celeba.check_images_present(image_dir, list(train.files) + list(test.files),
                                              cfg["skip_missing"])
        train, test = splits.without(train, missing), splits.without(test, missing)
    if cfg["batch_size"] > len(train.files):
        raise UserError(f"--batch_size {cfg['batch_size']} is larger than the training set "
                        f"({len(train.files)} entries); lower it")
    if len(test.files) == 0:
        raise UserError("the test set is empty; choose another --split")
    ds = PreparedData(table, groups, train, test, source, image_dir, celeba_frame)
    if check_images:
        ds.check_readable()
    return ds
