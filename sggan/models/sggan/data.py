"""What SG-GAN takes from the shared data code: its original's crop and resize of the 178 x 218
CelebA images (scipy.misc.imresize after cutting rows 20..197, columns 0..177), and its labelling
(per group, the sparse plan of --sp_type / --labelled)."""
from sggan.data import splits
from sggan.data.pipeline import Transform

TRANSFORM = Transform(crop=(20, 0, 178, 178), pil_resize=True)


def labelling(cfg, table, groups, train_rows, test_rows):
    """Per group, the sparse plan of --sp_type / --labelled, oversampled; the test images fully labelled."""
    plan = splits.sparse_plan(cfg["sp_type"], cfg["labelled"], cfg["labelled_pair"],
                              cfg["oversample_times"], len(train_rows))
    return splits.training_list(table, groups, train_rows, plan), splits.test_list(table, groups, test_rows)
