"""Files written whole or not at all: every file the program writes goes through here.

A crash, a full disk or Ctrl-C in the middle of a write leaves the previous version of the file
(or no file), never half of one: the content goes to a temporary file beside the target, which
then replaces it in one rename.
"""
import contextlib
import json
import os


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
