"""Corpus names -> recipe functions, imported lazily (a recipe's dependencies load only when used).

Every recipe is a function `load(data_dir, task=None, seed=0, **options) -> Manifest` that reads (or, for
the generated corpus, writes) a corpus and returns a manifest with `split` assigned. Recipes raise
`ValueError` naming the folder or file and the problem when a layout is wrong.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path

from keras_audio.config import did_you_mean
from keras_audio.manifest import Manifest

# name -> (module, function)
_RECIPES: dict[str, tuple[str, str]] = {
    "synthetic": ("keras_audio.corpora.synthetic", "load"),
    "timit": ("keras_audio.corpora.timit", "load"),
    "esc50": ("keras_audio.corpora.esc50", "load"),
    "audiomnist": ("keras_audio.corpora.digits", "load_audiomnist"),
    "fsdd": ("keras_audio.corpora.digits", "load_fsdd"),
    "ravdess": ("keras_audio.corpora.emotion", "load"),
    "folder": ("keras_audio.corpora.folder", "load_folder"),
    "csv": ("keras_audio.corpora.folder", "load_csv"),
}


def available() -> list[str]:
    return list(_RECIPES)


def default_data_dir(name: str) -> Path:
    """Where a corpus lives when no `--data-dir` is given: `datasets/<name>` under `paths.home()`."""
    from keras_audio.paths import datasets_dir

    return datasets_dir() / name


def _recipe(name: str):
    try:
        module_name, function_name = _RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(_RECIPES)}") from None
    return getattr(importlib.import_module(module_name), function_name)


def recipe_options(name: str) -> list[str]:
    """The options corpus `name`'s recipe takes (``--corpus-option KEY=VALUE``), in its signature's order."""
    parameters = inspect.signature(_recipe(name)).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "progress"]


def check_options(name: str, options: Mapping) -> None:
    """Refuse an option corpus `name`'s recipe does not take, naming it and the ones it does.

    Raises:
        ValueError: an unknown corpus or option.
    """
    known = recipe_options(name)
    unknown = [key for key in options if key not in known and key != "progress"]
    if unknown:
        hint = did_you_mean(unknown[0], known)
        hint = hint if hint.startswith("; did you mean") else ""
        raise ValueError(
            f"corpus {name!r} has no option {unknown[0]!r}{hint} (--corpus-option; {name} takes: "
            f"{', '.join(known) or 'no options'})"
        )


def load_corpus(
    name: str,
    data_dir: str | Path | None = None,
    task: str | None = None,
    seed: int = 0,
    progress: bool = True,
    **options,
) -> Manifest:
    """Build the manifest of corpus `name`.

    Args:
        name: one of `available()`.
        data_dir: the corpus root (default `datasets/<name>`).
        task: the labelling (``gender``, ``digit``, ...); None takes the recipe's default.
        seed: seeds any split the recipe has to draw (whole speakers, stratified).
        progress: show a progress bar, for recipes that do long work (generating the synthetic corpus).
        **options: recipe-specific settings (``esc10=True``, ``manifest=...``).

    Raises:
        ValueError: unknown corpus or option (`check_options`), or the recipe's own error naming what is
            wrong on disk.
    """
    recipe = _recipe(name)
    check_options(name, options)
    root = Path(data_dir) if data_dir is not None else default_data_dir(name)
    if "progress" in inspect.signature(recipe).parameters:
        options.setdefault("progress", progress)
    return recipe(root, task=task, seed=seed, **options)
