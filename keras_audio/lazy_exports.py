"""Public names a package resolves on first use (PEP 562): `import keras_audio` and its public subpackages stay
cheap (no TensorFlow until a name needs it) and free of import cycles however their modules import each other."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: MutableMapping, submodules: Sequence[str] = ()
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`: `exports` maps a public name to the module defining it,
    `submodules` are subpackages reached as attributes; a resolved name is stored in `namespace` (the
    package's `globals()`), so later lookups skip the function.

    Any other name raises AttributeError (not ImportError), so `from package import submodule` still falls back
    to importing the submodule.
    """

    def __getattr__(name: str):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")  # the import sets the attribute on the package
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports) | set(submodules))

    return __getattr__, __dir__
