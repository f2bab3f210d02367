"""Pretrained weights shipped inside registry packages: pinned by sha256, found without importing the package.

The packages that carry the checkpoints (Resemblyzer, aiSFX) import torch in their ``__init__``, so they
are installed with ``pip install --no-deps`` and only located here (`importlib.util.find_spec` of a
top-level package does not run it). Machines without a registry set ``KERAS_AUDIO_PRETRAINED_DIR`` to a
folder holding the copied files. A checkpoint converted to Keras is cached under ``<cache>/pretrained/``,
keyed by the checkpoint's hash and the converter version, so torch pickles are read once per machine.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import os
import re
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from keras_audio.hashing import file_sha256
from keras_audio.pretrained import torch_checkpoint

__all__ = [
    "AISFX",
    "GE2E",
    "PRETRAINED_DIR_VARIABLE",
    "CACHE_DIR_VARIABLE",
    "PretrainedWeightsError",
    "WeightSource",
    "cache_dir",
    "checkpoint_path",
    "load_pretrained",
    "locate",
]

PRETRAINED_DIR_VARIABLE = "KERAS_AUDIO_PRETRAINED_DIR"
CACHE_DIR_VARIABLE = "KERAS_AUDIO_CACHE_DIR"
_WEIGHTS_SUFFIX = ".weights.h5"


class PretrainedWeightsError(ValueError):
    """Pinned pretrained weights are missing or differ from the pinned hash."""


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """One checkpoint file inside one pinned version of a registry package, with its credit."""

    name: str  # short name used in cache files: "ge2e", "aisfx"
    package: str  # distribution and import name: "resemblyzer", "aisfx"
    version: str  # the pinned release that ships the file
    member: str  # path inside the installed package, "/"-separated
    sha256: str
    license: str
    authors: str
    reference: str  # the paper to cite

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", self.name):
            raise ValueError(f"weight source name {self.name!r} must be lower-case letters, digits, _")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"weight source {self.name!r}: sha256 {self.sha256!r} is not 64 hex digits")
        member = PurePosixPath(self.member)
        if member.is_absolute() or ".." in member.parts or not member.parts:
            raise ValueError(f"weight source {self.name!r}: member {self.member!r} is not a path inside the package")

    @property
    def basename(self) -> str:
        return PurePosixPath(self.member).name

    def credit(self) -> dict[str, str]:
        """What export metadata records about the weights (JSON-able)."""
        return {
            "name": self.name,
            "package": f"{self.package}=={self.version}",
            "license": self.license,
            "authors": self.authors,
            "reference": self.reference,
            "sha256": self.sha256,
        }

    def install_command(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"


GE2E = WeightSource(
    "ge2e",
    "resemblyzer",
    "0.1.4",
    "pretrained.pt",
    "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
    "Apache-2.0",
    "Corentin Jemine (Resemblyzer); model after Wan et al.",
    "Wan, Wang, Papir, Lopez Moreno: Generalized End-to-End Loss for Speaker Verification, ICASSP 2018",
)
AISFX = WeightSource(
    "aisfx",
    "aisfx",
    "0.1.2",
    "models/checkpoint.pth",
    "499ea75909c932a2f94c35fa722fa4fabc5bcb7e84917209cc5f7402627b7eb5",
    "CC-BY-4.0",
    "Alison B. Ma and Alexander Lerch",
    "Ma & Lerch: Representation Learning for the Automatic Indexing of Sound Effects Libraries, ISMIR 2022",
)


def locate(source: WeightSource) -> Path:
    """The checkpoint file: in ``$KERAS_AUDIO_PRETRAINED_DIR`` if set, else in the installed package."""
    folder = os.environ.get(PRETRAINED_DIR_VARIABLE)
    if folder:
        root = Path(folder).expanduser()
        for candidate in (root.joinpath(source.package, *PurePosixPath(source.member).parts), root / source.basename):
            if candidate.is_file():
                return candidate
        raise PretrainedWeightsError(
            f"pretrained weights for {source.name!r} not found: {PRETRAINED_DIR_VARIABLE}={folder} holds neither "
            f"{source.package}/{source.member} nor {source.basename}; copy the file from {source.package}=="
            f"{source.version} there, or unset it and run: {source.install_command()}"
        )
    path = _installed(source)
    if path is None:
        raise PretrainedWeightsError(
            f"pretrained weights for {source.name!r} not found: {source.package}/{source.member} is not installed; "
            f"run: {source.install_command()} (or set {PRETRAINED_DIR_VARIABLE} to a folder holding "
            f"{source.basename})"
        )
    return path


def _installed(source: WeightSource) -> Path | None:
    """The member inside the installed package, found without executing the package's ``__init__``."""
    parts = PurePosixPath(source.member).parts
    if source.package.isidentifier():
        try:
            spec = importlib.util.find_spec(source.package)
        except (ImportError, ValueError):
            spec = None
        for root in (spec.submodule_search_locations or []) if spec is not None else []:
            candidate = Path(root).joinpath(*parts)
            if candidate.is_file():
                return candidate
    try:
        distribution = importlib.metadata.distribution(source.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    candidate = Path(distribution.locate_file(PurePosixPath(source.package, *parts)))
    return candidate if candidate.is_file() else None


def checkpoint_path(source: WeightSource) -> Path:
    """`locate`, then check the file against the pinned sha256."""
    path = locate(source)
    digest = file_sha256(path)
    if digest != source.sha256:
        if os.environ.get(PRETRAINED_DIR_VARIABLE):
            fix = (
                f"replace it with {source.basename} from {source.package}=={source.version} "
                f"(run: pip download --no-deps {source.package}=={source.version})"
            )
        else:
            fix = f"reinstall with: pip install --force-reinstall --no-deps {source.package}=={source.version}"
        raise PretrainedWeightsError(
            f"pretrained weights for {source.name!r}: {path} has sha256 {digest[:12]}..., expected "
            f"{source.sha256[:12]}... ({source.package}=={source.version}); {fix}"
        )
    return path


def cache_dir() -> Path:
    """``$KERAS_AUDIO_CACHE_DIR``, else ``$XDG_CACHE_HOME/keras_audio``, else ``~/.cache/keras_audio``."""
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "keras_audio"


def load_pretrained(
    model: Any, source: WeightSource, assign: Callable[[Any, Any], None], converter_version: str
) -> Path:
    """Loads `source`'s weights into the Keras `model`, converting the torch checkpoint only once.

    The converted weights live in ``<cache>/pretrained/<name>-<sha256[:12]>-<converter_version>.weights.h5``;
    without that file the checkpoint is read (`torch_checkpoint.load`), `assign(model, state)` sets the
    weights, and the file is written under a temporary name and renamed into place, so concurrent
    processes never see half a file. A cache file that fails to load is removed and rebuilt, with a
    warning. Returns the cache file.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", converter_version):
        raise ValueError(f"converter_version {converter_version!r} must be letters, digits, '.', '_' or '-'")
    folder = cache_dir() / "pretrained"
    stem = f"{source.name}-{source.sha256[:12]}-{converter_version}"
    target = folder / f"{stem}{_WEIGHTS_SUFFIX}"
    if target.is_file():
        try:
            model.load_weights(target)
            return target
        except Exception as error:  # any unreadable or mismatched file: rebuild it from the checkpoint
            problem = " ".join(str(error).split())[:200] or type(error).__name__
            warnings.warn(
                f"pretrained weights cache {target} could not be loaded ({problem}); rebuilding it",
                RuntimeWarning,
                stacklevel=2,
            )
            target.unlink(missing_ok=True)
    state = torch_checkpoint.load(checkpoint_path(source))
    assign(model, state)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{stem}.partial-{os.getpid()}-{secrets.token_hex(4)}{_WEIGHTS_SUFFIX}"
    try:
        model.save_weights(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
