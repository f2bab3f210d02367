"""Reading typed records back from JSON: every key checked against the record's field types.

A record (a frozen dataclass of `keras_audio.suite.records`) is read by `from_json`, which refuses a missing
key or a value of the wrong type with one `RecordError` naming the file and the dotted key. A field with a
default may be absent (it was added after older run folders were written); its default is the one in the
dataclass, nowhere else. NaN is written as JSON null (`tables.write_json`), so a ``float`` field reads null
back as NaN.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any


class RecordError(ValueError):
    """A stage file that does not hold its record: the message names the file and the bad or missing key."""


def read_json_object(path: Path) -> dict:
    """The JSON object in `path`.

    Raises:
        RecordError: the file is missing, not JSON, or not an object.
    """
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise RecordError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(values, dict):
        raise RecordError(f"{path}: must hold a JSON object, got {type(values).__name__}")
    return values


def from_json(cls: type, values: Any, path: Path | str, where: str = ""):
    """An instance of the record class `cls` from parsed JSON `values`, every field checked.

    Args:
        path: the file, for messages.
        where: the dotted key of `values` in the file (``""``: the top level).
    """
    if not isinstance(values, Mapping):
        raise RecordError(f"{path}: {where or 'the file'} must be a JSON object, got {_shown(values)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}  # keys of no field are passed over: a folder of another version may hold more
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        key = _dotted(where, field.name)
        if field.name not in values:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise RecordError(f"{path}: missing key {key!r}")
            continue
        kwargs[field.name] = _value(values[field.name], hints[field.name], path, key)
    return cls(**kwargs)


def to_json(record) -> dict:
    """A record as plain JSON values, in field order (nested records and tuples included)."""
    return {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _plain(value):
    if dataclasses.is_dataclass(value):
        return value.to_json() if hasattr(value, "to_json") else to_json(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _dotted(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if not isinstance(value, (dict, list)) else type(value).__name__


def _value(value: Any, kind: Any, path, key: str):
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        return _value(value, options[0] if len(options) == 1 else Any, path, key)
    if dataclasses.is_dataclass(kind):  # a record's own reader first (it may read older shapes)
        return (kind.from_json if hasattr(kind, "from_json") else partial(from_json, kind))(value, path, key)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise RecordError(f"{path}: {key} must be true or false, got {_shown(value)}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise RecordError(f"{path}: {key} must be an integer, got {_shown(value)}")
    if kind is float:
        if value is None:  # NaN is written as null
            return math.nan
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise RecordError(f"{path}: {key} must be a number, got {_shown(value)}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise RecordError(f"{path}: {key} must be a string, got {_shown(value)}")
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise RecordError(f"{path}: {key} must be a list, got {_shown(value)}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):  # a fixed tuple, (str, int)
            if len(value) != len(args):
                raise RecordError(f"{path}: {key} must hold {len(args)} values, got {len(value)}")
            return tuple(_value(v, a, path, _dotted(key, i)) for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [_value(v, item, path, _dotted(key, i)) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or kind is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{path}: {key} must be a JSON object, got {_shown(value)}")
        item = args[1] if len(args) == 2 else Any
        return {name: _value(v, item, path, _dotted(key, name)) for name, v in value.items()}
    raise TypeError(f"from_json: no reader for the field type {kind!r} of {key}")
