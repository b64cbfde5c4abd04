"""One training run per experiment folder: a lock file held for the run's lifetime.

The lock is an advisory `flock` on <exp_dir>/run.lock, which names the holder's pid. The operating
system releases it when the process ends however it ends (even kill -9), so a lock file left by a
dead run is simply taken over. Only training takes the lock: test, sample and FID runs only read
checkpoints and write their own outputs, so they may run beside a training run.
"""
import fcntl
import os
import socket

from sggan.errors import UserError

LOCK_NAME = "run.lock"


class ExperimentLock:
    """Context manager: create the folder if needed, take its lock or refuse naming the holder."""

    def __init__(self, exp_dir):
        self.exp_dir = exp_dir
        self.path = os.path.join(exp_dir, LOCK_NAME)
        self.file = None
        self.created = False

    def __enter__(self):
        self.created = not os.path.exists(self.exp_dir)
        try:
            os.makedirs(self.exp_dir, exist_ok=True)
            self.file = open(self.path, "a+")
        except FileExistsError:
            raise UserError(f"--exp_dir {self.exp_dir} cannot be created: a file of that name is in the way")
        except OSError as problem:
            raise UserError(f"cannot write to the experiment folder {self.exp_dir}: {problem.strerror}")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            holder = self.file.read().strip() or "unknown"
            self.file.close()
            raise UserError(f"{self.exp_dir} is in use by another training run ({holder}); wait for it to "
                            "finish or stop it, or choose another --exp_dir")
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.truncate(0)  # a lock file without a holder: nothing to mislead a reader
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
        if self.created and os.listdir(self.exp_dir) == [LOCK_NAME]:  # a run refused before writing
            os.remove(self.path)
            os.rmdir(self.exp_dir)
