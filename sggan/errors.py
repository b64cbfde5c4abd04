"""How problems reach the user: a one-line `error: …` (UserError) or a `warning: …` line."""
import sys


class UserError(Exception):
    """Bad input the user can fix: main.py prints `error: <message>` and exits with status 2."""


def warn(message):
    """A warning the user should see, on stderr so that stdout stays machine-readable."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
