"""The design page (docs/design.md) names every subpackage of keras_audio, so the map cannot fall behind."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "keras_audio"
DESIGN_PAGE = REPO / "docs" / "design.md"


def subpackages(root: Path) -> list[str]:
    """Dotted names of every folder under `root` holding an `__init__.py` (not `root` itself)."""
    return sorted(
        ".".join(init.parent.relative_to(root.parent).parts)
        for init in root.rglob("__init__.py")
        if init.parent != root
    )


def named_on(text: str, dotted: str) -> bool:
    """`dotted` appears as a whole name: not only as the start of a longer one (`keras_audio.suite.stages`
    does not name `keras_audio.suite`)."""
    return re.search(re.escape(dotted) + r"(?![\w]|\.\w)", text) is not None


def test_every_subpackage_is_on_the_design_page():
    text = DESIGN_PAGE.read_text(encoding="utf-8")
    missing = [name for name in subpackages(PACKAGE) if not named_on(text, name)]
    assert not missing, f"docs/design.md does not name the subpackages {missing}: add each to the map"


def test_subpackages_are_found(tmp_path):
    (tmp_path / "pkg" / "inner" / "deeper").mkdir(parents=True)
    (tmp_path / "pkg" / "data").mkdir()
    for folder in ("pkg", "pkg/inner", "pkg/inner/deeper"):
        (tmp_path / folder / "__init__.py").write_text("")
    assert subpackages(tmp_path / "pkg") == ["pkg.inner", "pkg.inner.deeper"]


def test_a_longer_name_does_not_name_its_prefix():
    assert not named_on("see `keras_audio.suite.stages`", "keras_audio.suite")
    assert named_on("see `keras_audio.suite`.", "keras_audio.suite")
    assert named_on("keras_audio.suite, then", "keras_audio.suite")
    assert not named_on("keras_audio.suites", "keras_audio.suite")


def top_modules(root: Path) -> list[str]:
    """Page names (`grid.py`, `suite/tables.py`) of the modules of the package and of its suite, the two levels
    the map lists file by file (other subpackages are named as a whole)."""
    names = [p.name for p in root.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    names += [f"suite/{p.name}" for p in (root / "suite").glob("*.py") if p.name != "__init__.py"]
    return sorted(names)


def test_every_module_of_the_package_and_the_suite_is_on_the_design_page():
    text = DESIGN_PAGE.read_text(encoding="utf-8")
    missing = [name for name in top_modules(PACKAGE) if f"`{name}`" not in text]
    assert not missing, f"docs/design.md does not name the modules {missing}: add each to the map"
