"""MkDocs hook: API reference entries for the names a package exports lazily.

`keras_audio.corruptions` and `keras_audio.models` resolve their public names on first use (a module
`__getattr__` over an `_EXPORTS` dict of name -> defining module), which griffe, reading the source without
running it, cannot follow. A page line

    <!-- lazy-exports keras_audio.corruptions -->

becomes one `::: defining.module.Name` entry per exported name, in the dict's order, read from the package's
`__init__.py` with `ast`: the page follows the package's export list without importing anything.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- lazy-exports (?P<package>[\w.]+) -->$", re.MULTILINE)


def lazy_exports(init_file: Path) -> dict[str, str]:
    """The `_EXPORTS` dict literal of a package's `__init__.py`: exported name -> defining module."""
    for node in ast.parse(init_file.read_text(encoding="utf-8")).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
            return ast.literal_eval(node.value)
    raise PluginError(f"{init_file} has no _EXPORTS dict for the lazy-exports marker")


def entries(package: str, root: Path) -> str:
    init_file = root.joinpath(*package.split("."), "__init__.py")
    if not init_file.is_file():
        raise PluginError(f"lazy-exports: no package {package!r} ({init_file} missing)")
    return "\n\n".join(f"::: {module}.{name}" for name, module in lazy_exports(init_file).items())


def on_page_markdown(markdown: str, page, config, files) -> str:
    root = Path(config.config_file_path).parent
    return MARKER.sub(lambda match: entries(match["package"], root), markdown)
