"""Files written whole or not at all, and what a failed write means.

A crash, a full disk or Ctrl-C in the middle of a write leaves the previous version of the file
(or no file), never half of one: the content goes to a temporary file beside the target, which
then replaces it in one rename. Every file the program writes goes through here, except those
TensorFlow writes itself (checkpoints: CheckpointManager writes its index last; TensorBoard
events), the loss log (appended line by line; a torn last line is dropped on resume), crash
reports, and the demo faces (drawn into a temporary folder that is renamed when complete).
"""
import contextlib
import errno
import json
import os

# OS errors that say something about the user's machine, not about this program.
USER_FIXABLE = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                errno.EPERM: "operation not permitted"}
# Those TensorFlow's C++ file writers report only as text inside a tf.errors.OpError.
RECOGNISED_IN_TEXT = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def disk_problem(problem):
    """A short explanation when `problem` is a full disk / permission error, else None."""
    if isinstance(problem, OSError) and problem.errno in USER_FIXABLE:
        where = f" ({problem.filename})" if problem.filename else ""
        return USER_FIXABLE[problem.errno] + where
    text = str(problem).strip()
    for code in RECOGNISED_IN_TEXT:
        if os.strerror(code) in text:
            return f"{USER_FIXABLE[code]} ({text.splitlines()[0][:200]})"
    return None


@contextlib.contextmanager
def replaced_atomically(path):
    """Yield a temporary path beside `path` (same extension); on success it replaces `path`."""
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    stem, extension = os.path.splitext(name)
    # hidden and pid-tagged: never taken for a real file by a glob, never shared by two processes
    tmp = os.path.join(folder, f".{stem}.tmp{os.getpid()}{extension}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    with replaced_atomically(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def write_json(path, obj):
    """config.json, metrics.json, fid.json, classifier.json: indented, keys sorted."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
