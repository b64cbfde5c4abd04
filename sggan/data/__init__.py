"""Data, model-agnostic: attribute tables and groups, splits and the sparse-label plan, the
sources (CelebA folders, UTKFace, TFRecord shards, the procedural demo faces), tf.data pipelines
and face alignment for photos. A model passes in what is its own (crop, labelling)."""
