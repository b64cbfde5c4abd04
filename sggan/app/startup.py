"""Starting quietly and stoppably: TensorFlow's start-up chatter hidden, SIGTERM handled like Ctrl-C.

TensorFlow's C++ start-up lines ("oneDNN custom operations are on", CPU instruction notes) are
written to the process's stderr while the library loads, before any log level applies, so the
import runs with stderr pointed at /dev/null. `--verbose` (or a TF_CPP_MIN_LOG_LEVEL of the
user's own) lets everything through.
"""
import logging
import os
import signal


def quiet_environment(verbose):
    """Settings that must be made before TensorFlow is imported."""
    # oneDNN kernels are twice as fast on x86 CPUs but not on by default on every CPU (see README,
    # "Speed"); a user's own setting wins.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")


def import_tensorflow(verbose):
    """Import TensorFlow; unless verbose, without its start-up lines and with its Python logs at ERROR."""
    if verbose:
        import tensorflow as tf
        return tf
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel(logging.ERROR)
    return tf


def interrupt_on_sigterm():
    """SIGTERM raises KeyboardInterrupt like Ctrl-C, so that setup work stops with a clean message.

    The training loop installs its own handlers (loop.StopRequest) for a graceful stop.
    """
    def handle(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, signal.default_int_handler)
