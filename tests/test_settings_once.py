"""Settings are declared once (smsgw.config, smsgw.providers): no call site repeats a default.

Product code reads `settings["key"]`; a `settings.get("key", default)` would carry a second
default that can drift from the declaration (29 of them once did, and disagreed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from smsgw.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("smsgw", "handlers", "prices", "db")
KEYS = {setting.key for setting in SETTINGS}
SECTIONS = {key.split(".")[0] + "." for key in KEYS}


def product_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def looks_like_a_setting(key: str) -> bool:
    """A declared key, or one in a declared section (a misspelt key would slip past too)."""
    return key in KEYS or key.startswith(tuple(SECTIONS))


def gets_of_settings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, key) of every `<anything>.get("<setting key>", ...)` call."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "setdefault") and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and looks_like_a_setting(node.args[0].value)):
            yield node.lineno, node.args[0].value


def test_no_call_site_repeats_a_settings_default():
    found = [f"{path.relative_to(ROOT)}:{line}: .get({key!r}, ...)"
             for path in product_files()
             for line, key in gets_of_settings(ast.parse(path.read_text(), str(path)))]
    assert not found, ("read settings as settings[key]; the default belongs in the"
                       " declaration:\n" + "\n".join(found))


def test_the_check_sees_a_repeated_default():
    tree = ast.parse('x = int(ctx.settings.get(\n    "limits.sender_messages", 30))\n'
                     'y = request.environ.get("wsgi.input")\n')
    assert list(gets_of_settings(tree)) == [(1, "limits.sender_messages")]
