"""The committed corruption catalogue (docs/corruptions.md) agrees with the registry it was generated from."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from keras_audio.corruptions import registry

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "docs" / "scripts" / "make_corruption_catalogue.py"
REGENERATE = "python docs/scripts/make_corruption_catalogue.py"


@pytest.fixture(scope="module")
def catalogue():
    spec = importlib.util.spec_from_file_location("make_corruption_catalogue", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_every_corruption_and_parameter_has_a_physical_meaning(catalogue):
    catalogue.check_meanings()


def test_the_page_holds_each_corruptions_current_severity_table_and_picture(catalogue):
    page = (REPO / "docs" / "corruptions.md").read_text(encoding="utf-8")
    for name in registry.names():
        assert catalogue.severity_table(name) in page, f"{name}: the page is stale; run {REGENERATE}"
        assert (REPO / "docs" / catalogue.IMAGE_FOLDER / f"{name}.png").is_file(), f"{name}: no picture"


def test_a_corruption_without_a_meaning_stops_the_script(catalogue, monkeypatch):
    monkeypatch.delitem(catalogue.MEANINGS, "gain")
    with pytest.raises(SystemExit, match="'gain' has no entry in MEANINGS"):
        catalogue.check_meanings()
