"""SG-GAN and VAC+GAN in TensorFlow 2. `from sggan import Editor` gives the exported editor's API
(imported on first use, so that the command line answers --help without loading TensorFlow)."""


def __getattr__(name):
    if name == "Editor":
        from sggan.app import startup
        startup.quiet_environment(verbose=False)
        startup.import_tensorflow(verbose=False)  # without its start-up lines
        from sggan.models.sggan.editor import Editor
        return Editor
    raise AttributeError(f"module 'sggan' has no attribute {name!r}")
