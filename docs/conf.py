"""Sphinx configuration for the djqueue documentation.

The API reference is written by hand, so building the docs neither imports
djqueue nor needs Django to be configured.
"""

import re
from pathlib import Path

_init = Path(__file__).resolve().parent.parent / "djqueue" / "__init__.py"
_version = re.search(r'^__version__ = "([^"]+)"', _init.read_text(), re.MULTILINE)

project = "djqueue"
author = "The djqueue developers"
copyright = "the djqueue developers"
release = _version.group(1) if _version else "unknown"
version = ".".join(release.split(".")[:2])

extensions = []

root_doc = "index"
exclude_patterns = ["_build"]
default_role = "literal"
highlight_language = "python"
pygments_style = "sphinx"

html_theme = "alabaster"
html_theme_options = {
    "description": "Background work for Django.",
    "fixed_sidebar": False,
}
html_static_path = []
