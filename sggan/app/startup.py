"""Starting quietly and stoppably: TensorFlow's start-up chatter hidden, SIGTERM handled like Ctrl-C.

TensorFlow's C++ start-up lines ("oneDNN custom operations are on", CPU instruction notes) are
written to the process's stderr while the library loads, before any log level applies, so the
import runs with stderr pointed at /dev/null. `--verbose` (or a TF_CPP_MIN_LOG_LEVEL of the
user's own) lets everything through.

After the import, absl writes every C++ log line of severity ERROR to stderr whatever
TF_CPP_MIN_LOG_LEVEL says (absl logging is never initialised in TensorFlow's Python package), so a
quiet process also filters file descriptor 2 (drop_native_logs).
"""
import logging
import os
import re
import signal
import sys
import threading

# A line of TensorFlow's C++ logging after the import (absl's format, e.g. `E0000 00:00:1.2 831
# util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512…`), or absl's note about it.
NATIVE_LOG = re.compile(rb"[IWEF]\d{4} [\d:.]+ +\d+ [\w.+-]+:\d+\] "
                        rb"|WARNING: All log messages before absl::InitializeLog")


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


def drop_native_logs():
    """For a quiet process of its own (main.py's): C++ log lines written to file descriptor 2 are
    dropped and every other byte passes; Python's sys.stderr writes to the real stderr directly.

    Not for a process that shares its stderr (pytest's in-process runs): it rewires descriptor 2.
    Native lines written in the last moments before exit may be lost with the filter thread.
    """
    real = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    sys.stderr.flush()
    sys.stderr = open(real, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")

    def pump():
        with os.fdopen(read, "rb") as native:
            for line in native:
                if not NATIVE_LOG.match(line):
                    os.write(real, line)
    threading.Thread(target=pump, name="native-log-filter", daemon=True).start()
