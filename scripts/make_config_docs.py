"""Write docs/configuration.md from the options table (sggan/app/options.py) and config.py.

Run it after changing an option or config.py's SETTINGS or PRESETS; tests/test_cli.py fails while
the page is out of date.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sggan.app import options  # noqa: E402

PAGE = os.path.join(ROOT, "docs", "configuration.md")


def page():
    """The page as the generator makes it now."""
    config = options.load_config_file(os.path.join(ROOT, "config.py"))
    return options.configuration_markdown(config.SETTINGS, config.PRESETS)


if __name__ == "__main__":
    with open(PAGE, "w") as f:
        f.write(page())
    print(f"wrote {PAGE}")
