"""From config to data: the attribute table, groups, split, sparse labels and the image source."""
from dataclasses import dataclass

import numpy as np

from sggan import celeba, data, demo_faces
from sggan.errors import UserError


@dataclass
class Dataset:
    table: celeba.AttributeTable
    groups: list
    train: celeba.LabelledList
    test: celeba.LabelledList
    source: object          # turns a file name into image bytes (see data.FolderSource)
    image_dir: str

    def summary(self):
        """The dry-run counts: images, entries after oversampling, labelled images per group."""
        groups = {}
        for a, group in enumerate(self.groups):
            labelled = self.train.masks[:, a] > 0
            groups[group.spec] = {
                "labelled": int(len(np.unique(self.train.rows[labelled]))),
                "labelled_entries": int(labelled.sum()),
                "positives": int(len(np.unique(self.train.rows[labelled & (self.train.classes[:, a] == 1)]))),
            }
        return {"train_images": int(len(np.unique(self.train.rows))), "train_entries": int(len(self.train.files)),
                "test_images": int(len(self.test.files)), "groups": groups}


def prepare(cfg, check_images=True):
    """Everything the models need to know about the data, checked; refuses bad input up front."""
    if cfg["demo"]:
        demo_faces.ensure(cfg["data_dir"])
    table = celeba.read_attributes(cfg["data_dir"])
    groups = [celeba.parse_group(spec, table.names) for spec in cfg["attributes"]]
    if len({g.spec for g in groups}) != len(groups):
        raise UserError("--attributes lists the same group twice")
    train_rows, test_rows = celeba.split_rows(table, cfg["data_dir"], cfg["split"], cfg["test_fraction"])
    plan = celeba.sparse_plan(cfg["sp_type"], cfg["labelled"], cfg["labelled_pair"],
                              cfg["oversample_times"], len(train_rows))
    train = celeba.training_list(table, groups, train_rows, plan)
    test = celeba.test_list(table, groups, test_rows)
    image_dir = celeba.find_image_dir(cfg["data_dir"], cfg["image_dir"])
    if check_images:
        missing = celeba.check_images_present(image_dir, list(train.files) + list(test.files),
                                              cfg["skip_missing"])
        train, test = celeba.without(train, missing), celeba.without(test, missing)
    if cfg["batch_size"] > len(train.files):
        raise UserError(f"--batch_size {cfg['batch_size']} is larger than the training set "
                        f"({len(train.files)} entries); lower it")
    if len(test.files) == 0:
        raise UserError("the test set is empty; choose another --split")
    return Dataset(table, groups, train, test, data.FolderSource(image_dir), image_dir)
