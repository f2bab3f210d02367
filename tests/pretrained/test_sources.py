"""Pinned weight sources: locating without importing, hash checks, the converted-weights cache."""

from __future__ import annotations

import hashlib
import pickle
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_audio.pretrained import sources
from keras_audio.pretrained.sources import AISFX, GE2E, PretrainedWeightsError, WeightSource

KERNEL = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
BIAS = [0.5, -0.5]


def write_checkpoint(path: Path) -> Path:
    """A zip-format checkpoint holding plain lists (the reader returns containers as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"kernel": KERNEL, "bias": BIAS}, protocol=2))
    return path


def fake_source(checkpoint: Path | None, package: str = "fakepkg", sha256: str | None = None) -> WeightSource:
    if sha256 is None:
        sha256 = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    return WeightSource("fake", package, "1.0", "models/weights.pt", sha256, "MIT", "Nobody", "No paper")


@pytest.fixture
def no_dirs(monkeypatch, tmp_path):
    monkeypatch.delenv(sources.PRETRAINED_DIR_VARIABLE, raising=False)
    monkeypatch.setenv(sources.CACHE_DIR_VARIABLE, str(tmp_path / "cache"))


@pytest.mark.parametrize("layout", ["fakepkg/models/weights.pt", "weights.pt"])
def test_located_through_the_pretrained_dir(tmp_path, monkeypatch, layout):
    checkpoint = write_checkpoint(tmp_path / "copied" / layout)
    monkeypatch.setenv(sources.PRETRAINED_DIR_VARIABLE, str(tmp_path / "copied"))
    source = fake_source(checkpoint)
    assert sources.locate(source) == checkpoint
    assert sources.checkpoint_path(source) == checkpoint


def test_located_in_an_installed_package_without_importing_it(tmp_path, monkeypatch, no_dirs):
    site = tmp_path / "site"
    (site / "fakepkg_installed").mkdir(parents=True)
    (site / "fakepkg_installed" / "__init__.py").write_text("raise RuntimeError('the package was imported')\n")
    checkpoint = write_checkpoint(site / "fakepkg_installed" / "models" / "weights.pt")
    monkeypatch.syspath_prepend(str(site))
    source = fake_source(checkpoint, package="fakepkg_installed")
    assert sources.checkpoint_path(source) == checkpoint
    assert "fakepkg_installed" not in sys.modules


def test_wrong_hash_names_the_package_and_the_fix(tmp_path, monkeypatch, no_dirs):
    site = tmp_path / "site"
    (site / "fakepkg_tampered").mkdir(parents=True)
    checkpoint = write_checkpoint(site / "fakepkg_tampered" / "models" / "weights.pt")
    monkeypatch.syspath_prepend(str(site))
    source = fake_source(checkpoint, package="fakepkg_tampered", sha256="0" * 64)
    with pytest.raises(PretrainedWeightsError, match="fakepkg_tampered==1.0") as caught:
        sources.checkpoint_path(source)
    message = str(caught.value)
    assert "pip install --force-reinstall --no-deps fakepkg_tampered==1.0" in message
    assert str(checkpoint) in message and "\n" not in message

    monkeypatch.setenv(sources.PRETRAINED_DIR_VARIABLE, str(checkpoint.parent))
    with pytest.raises(PretrainedWeightsError, match=r"pip download --no-deps fakepkg_tampered==1\.0"):
        sources.checkpoint_path(source)


def test_missing_weights_name_the_install_command(tmp_path, monkeypatch, no_dirs):
    source = fake_source(None, package="keras_audio_no_such_package", sha256="0" * 64)
    with pytest.raises(PretrainedWeightsError, match="pip install --no-deps keras_audio_no_such_package==1.0"):
        sources.checkpoint_path(source)
    monkeypatch.setenv(sources.PRETRAINED_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(PretrainedWeightsError, match="holds neither .*weights.pt.*pip install --no-deps"):
        sources.checkpoint_path(source)


def tiny_model() -> keras.Model:
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


class CountingAssign:
    def __init__(self):
        self.calls = 0

    def __call__(self, model: keras.Model, state: dict) -> None:
        self.calls += 1
        model.layers[0].set_weights([np.array(state["kernel"], np.float32), np.array(state["bias"], np.float32)])


def expect_weights(model: keras.Model) -> None:
    kernel, bias = model.layers[0].get_weights()
    np.testing.assert_array_equal(kernel, KERNEL)
    np.testing.assert_array_equal(bias, BIAS)


def test_cache_is_written_once_and_reused(tmp_path, monkeypatch, no_dirs):
    checkpoint = write_checkpoint(tmp_path / "copied" / "weights.pt")
    monkeypatch.setenv(sources.PRETRAINED_DIR_VARIABLE, str(checkpoint.parent))
    source = fake_source(checkpoint)
    assign = CountingAssign()
    first, second = tiny_model(), tiny_model()
    path = sources.load_pretrained(first, source, assign, "v1")
    assert path == tmp_path / "cache" / "pretrained" / f"fake-{source.sha256[:12]}-v1.weights.h5"
    assert sources.load_pretrained(second, source, assign, "v1") == path
    assert assign.calls == 1
    expect_weights(second)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left behind


def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, monkeypatch, no_dirs):
    checkpoint = write_checkpoint(tmp_path / "copied" / "weights.pt")
    monkeypatch.setenv(sources.PRETRAINED_DIR_VARIABLE, str(checkpoint.parent))
    source = fake_source(checkpoint)
    target = tmp_path / "cache" / "pretrained" / f"fake-{source.sha256[:12]}-v1.weights.h5"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not an HDF5 file")
    assign = CountingAssign()
    model = tiny_model()
    with pytest.warns(RuntimeWarning, match=target.name):
        assert sources.load_pretrained(model, source, assign, "v1") == target
    assert assign.calls == 1
    expect_weights(model)
    reloaded = tiny_model()
    sources.load_pretrained(reloaded, source, assign, "v1")
    assert assign.calls == 1
    expect_weights(reloaded)


def test_cache_dir_settings(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sources.cache_dir() == tmp_path / "xdg" / "keras_audio"
    monkeypatch.setenv(sources.CACHE_DIR_VARIABLE, str(tmp_path / "mine"))
    assert sources.cache_dir() == tmp_path / "mine"


def test_credit_and_install_command():
    assert GE2E.install_command() == "pip install --no-deps resemblyzer==0.1.4"
    credit = AISFX.credit()
    assert credit["package"] == "aisfx==0.1.2" and credit["license"] == "CC-BY-4.0"
    assert credit["sha256"] == AISFX.sha256 and "Lerch" in credit["authors"]


def test_real_sources_are_installed_and_verified(monkeypatch):
    # Must fail, never skip, without the wheels: pip install --no-deps resemblyzer==0.1.4 aisfx==0.1.2
    monkeypatch.delenv(sources.PRETRAINED_DIR_VARIABLE, raising=False)
    for source in (GE2E, AISFX):
        path = sources.checkpoint_path(source)
        assert path.as_posix().endswith(f"{source.package}/{source.member}")
    assert "resemblyzer" not in sys.modules and "aisfx" not in sys.modules
