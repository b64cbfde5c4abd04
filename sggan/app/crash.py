"""The last line of defence: an unexpected error becomes one `error:` line and a crash report file.

A full disk or a folder without write permission is the user's to fix, not a bug: such OS errors
become a plain `error:` line too. Anything else is written, with its full traceback, to
<exp_dir>/crash-<time>.txt (or a temporary file when there is no experiment folder yet).
"""
import contextlib
import os
import sys
import tempfile
import time
import traceback

from sggan.errors import UserError
from sggan.files import disk_problem

class InternalError(Exception):
    """An unexpected error, already reported to a file: main.py prints it and exits with status 1."""


def write_report(exc, exp_dir=None):
    """Write the traceback of `exc` to a file; returns its path."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    header = f"{time.strftime('%Y-%m-%d %H:%M:%S')}  python {sys.version.split()[0]}  argv {sys.argv}\n\n"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if exp_dir and os.path.isdir(exp_dir):
        try:
            path = os.path.join(exp_dir, f"crash-{stamp}.txt")
            with open(path, "a") as f:
                f.write(header + text)
            return path
        except OSError:
            pass  # the folder is not writable: fall back to a temporary file
    fd, path = tempfile.mkstemp(prefix=f"sggan-crash-{stamp}-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(header + text)
    return path


@contextlib.contextmanager
def reported(exp_dir=None):
    """Turn disk problems into UserError and any other unexpected Exception into InternalError."""
    try:
        yield
    except (UserError, InternalError):
        raise
    except Exception as problem:  # the catch-all is the point: no bare traceback reaches the user
        if _after_interrupt(problem):
            # Ctrl-C landing inside a TensorFlow context manager (a strategy scope) makes its exit
            # raise about broken nesting; what the user did was interrupt, so say that.
            raise KeyboardInterrupt from problem
        reason = disk_problem(problem)
        if reason:
            raise UserError(reason) from problem
        path = write_report(problem, exp_dir)
        summary = str(problem).strip().splitlines()
        detail = f": {summary[0][:200]}" if summary else ""
        raise InternalError(f"internal error ({type(problem).__name__}{detail}); "
                            f"the full traceback is in {path}") from problem


def _after_interrupt(problem):
    """True when `problem` was raised while handling a KeyboardInterrupt (in its context chain)."""
    seen = set()
    while problem is not None and id(problem) not in seen:
        if isinstance(problem, KeyboardInterrupt):
            return True
        seen.add(id(problem))
        problem = problem.__cause__ or problem.__context__
    return False
