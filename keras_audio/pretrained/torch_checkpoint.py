"""Read files written by ``torch.save`` without torch: tensors come back as NumPy arrays.

Both serialization formats are read: the zip archive (torch >= 1.6: ``<prefix>/data.pkl`` plus one
``<prefix>/data/<key>`` record per storage) and the legacy stream (magic number, protocol version, system
info, the main pickle, the list of storage keys, then each storage as an int64 element count and its bytes).

Unpickling runs whatever callables a pickle names, so a checkpoint is code. The unpickler here resolves
only an explicit allow-list of names (tensor rebuild functions, storage types, dtypes, ``OrderedDict``,
NumPy scalars) to local implementations and never imports a module the file asks for; any other global
raises `UnsafeCheckpointError`. Views are bounds-checked against their storage before `as_strided` reads.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["UnsafeCheckpointError", "load"]

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# torch dtype name -> NumPy dtype name ("ml_dtypes:" names need the ml_dtypes package, which TF installs)
_DTYPES = {
    "float32": "float32",
    "float": "float32",
    "float64": "float64",
    "double": "float64",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "ml_dtypes:bfloat16",
    "float8_e4m3fn": "ml_dtypes:float8_e4m3fn",
    "float8_e5m2": "ml_dtypes:float8_e5m2",
    "float8_e4m3fnuz": "ml_dtypes:float8_e4m3fnuz",
    "float8_e5m2fnuz": "ml_dtypes:float8_e5m2fnuz",
    "complex64": "complex64",
    "cfloat": "complex64",
    "complex128": "complex128",
    "cdouble": "complex128",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
    "int16": "int16",
    "short": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "bool": "bool",
}
# storage type name -> torch dtype name
_STORAGES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}


class UnsafeCheckpointError(ValueError):
    """A checkpoint names a global outside the allow-list (anything but tensors, storages and containers)."""


def load(path: str | Path) -> Any:
    """The object `torch.save` wrote to `path`, with every tensor as a NumPy array (contiguous, owning its data).

    Raises `UnsafeCheckpointError` for a pickle that names any other global, `ValueError` for a missing,
    truncated or corrupt file; both name the file.
    """
    name = str(path)
    try:
        with open(path, "rb") as file:
            head = file.read(512)
            file.seek(0)
            if head.startswith(b"PK"):
                return _load_zip(file)
            if head[257:262] == b"ustar":
                raise ValueError("uses the tar format of torch < 0.4, which is not supported")
            return _load_legacy(file)
    except UnsafeCheckpointError as error:
        raise UnsafeCheckpointError(f"checkpoint {name}: {error}") from None
    except FileNotFoundError:
        raise ValueError(f"checkpoint {name}: no such file") from None
    except Exception as error:  # a corrupt file can fail anywhere: report it as one line naming the file
        raise ValueError(f"checkpoint {name}: {_describe(error)}") from error


def _describe(error: Exception) -> str:
    if isinstance(error, (EOFError, struct.error)) or (
        isinstance(error, pickle.UnpicklingError) and "truncated" in str(error)
    ):
        text = f"file is truncated ({error})" if str(error) else "file is truncated"
    elif isinstance(error, zipfile.BadZipFile):
        text = f"corrupt or truncated zip archive ({error})"
    elif isinstance(error, pickle.UnpicklingError):
        text = f"corrupt pickle ({error})"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------- formats


def _load_zip(file: BinaryIO) -> Any:
    with zipfile.ZipFile(file) as archive:
        records = {info.filename: info for info in archive.infolist()}
        pickles = sorted((n for n in records if n == "data.pkl" or n.endswith("/data.pkl")), key=len)
        if not pickles:
            raise ValueError("zip archive has no data.pkl (not written by torch.save)")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in records:
            byteorder = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise ValueError(f"unknown byte order {byteorder!r}")
        storages: dict[str, np.ndarray] = {}

        def storage(saved_id: Any) -> np.ndarray:
            dtype, key, numel, _view = _storage_id(saved_id, legacy=False)
            if key not in storages:
                record = f"{prefix}data/{key}"
                if record not in records:
                    raise ValueError(f"storage record {record!r} is missing")
                nbytes = numel * dtype.itemsize
                if records[record].file_size < nbytes:
                    raise EOFError(f"storage {key!r} holds {records[record].file_size} bytes, expected {nbytes}")
                storages[key] = _array(archive.read(record)[:nbytes], dtype, byteorder)
            return storages[key]

        return _Unpickler(io.BytesIO(archive.read(prefix + "data.pkl")), storage).load()


def _load_legacy(file: BinaryIO) -> Any:
    try:
        magic = _plain(file)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        if isinstance(error, UnsafeCheckpointError):
            raise
        raise ValueError("not a torch.save file (neither a zip archive nor the legacy magic number)") from error
    if magic != LEGACY_MAGIC_NUMBER:
        raise ValueError("not a torch.save file (neither a zip archive nor the legacy magic number)")
    protocol = _plain(file)
    if protocol != LEGACY_PROTOCOL_VERSION:
        raise ValueError(f"legacy protocol version {protocol!r} is not {LEGACY_PROTOCOL_VERSION}")
    _plain(file)  # system info: storages are always written little-endian, whatever the writer's byte order
    start = file.tell()

    # First pass: check every global and learn each storage's dtype and size; tensors come back as None
    # because the storage bytes follow the main pickle.
    specs: dict[str, tuple[np.dtype, int]] = {}

    def record(saved_id: Any) -> None:
        dtype, key, numel, _view = _storage_id(saved_id, legacy=True)
        specs.setdefault(key, (dtype, numel))
        return None

    _Unpickler(file, record).load()
    keys = _plain(file)
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise ValueError("storage key list is not a list of strings")
    arrays: dict[str, np.ndarray] = {}
    for key in keys:
        if key not in specs:
            raise ValueError(f"storage {key!r} is listed but no tensor uses it")
        dtype, numel = specs[key]
        (count,) = struct.unpack("<q", _read_exact(file, 8, key))
        if count != numel:
            raise ValueError(f"storage {key!r} holds {count} elements, the pickle says {numel}")
        arrays[key] = _array(_read_exact(file, numel * dtype.itemsize, key), dtype, "little")
    missing = sorted(set(specs) - set(arrays))
    if missing:
        raise ValueError(f"storage {missing[0]!r} is used but not stored")

    def storage(saved_id: Any) -> np.ndarray:
        _dtype, key, _numel, view = _storage_id(saved_id, legacy=True)
        if view is None:
            return arrays[key]
        _view_key, offset, size = view
        if offset < 0 or size < 0 or offset + size > arrays[key].size:
            raise ValueError(f"storage view [{offset}, {offset + size}) lies outside storage {key!r}")
        return arrays[key][offset : offset + size]

    file.seek(start)
    return _Unpickler(file, storage).load()


def _plain(file: BinaryIO) -> Any:
    """One pickle that must not reference storages (the legacy header and key list)."""

    def no_storage(saved_id: Any) -> None:
        raise ValueError("unexpected storage reference outside the main pickle")

    return _Unpickler(file, no_storage).load()


def _read_exact(file: BinaryIO, size: int, key: str) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise EOFError(f"storage {key!r} has {len(data)} of {size} bytes")
    return data


def _storage_id(saved_id: Any, legacy: bool) -> tuple[np.dtype, str, int, tuple[str, int, int] | None]:
    """(dtype, root key, element count, view) from ``('storage', type, key, location, numel[, view])``."""
    if not isinstance(saved_id, tuple) or not saved_id:
        raise ValueError(f"unexpected persistent id {saved_id!r}")
    typename = saved_id[0].decode("ascii") if isinstance(saved_id[0], bytes) else saved_id[0]
    if typename != "storage" or len(saved_id) not in ((5, 6) if legacy else (5,)):
        raise ValueError(f"unexpected persistent id {saved_id!r} (only storages are supported)")
    storage_type, key, _location, numel = saved_id[1:5]
    view = saved_id[5] if len(saved_id) == 6 else None
    if not isinstance(storage_type, _StorageType):
        raise ValueError(f"persistent id names {storage_type!r}, not a storage type")
    key = key.decode("ascii") if isinstance(key, bytes) else key
    if not isinstance(key, str) or not _is_count(numel):
        raise ValueError(f"malformed storage id {saved_id!r}")
    if view is not None and not (isinstance(view, tuple) and len(view) == 3 and all(map(_is_count, view[1:]))):
        raise ValueError(f"malformed storage view {view!r}")
    return storage_type.dtype, key, numel, view


def _array(data: bytes, dtype: np.dtype, byteorder: str) -> np.ndarray:
    """A storage as a writable array in native byte order (a storage may itself be a value in the file)."""
    array = np.frombuffer(data, dtype=dtype)
    if byteorder != sys.byteorder and dtype.itemsize > 1:
        return array.byteswap()
    return array.copy()


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# ------------------------------------------------------------------------------------ the safe unpickler


class _Unpickler(pickle.Unpickler):
    """Resolves globals only through `_ALLOWED`; storages through the format's `storage` callback."""

    def __init__(self, file: BinaryIO, storage: Callable[[Any], Any]):
        super().__init__(file, encoding="utf-8")
        self._storage = storage

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"refuses to load global '{module}.{name}' (not a tensor, storage or container)"
            ) from None

    def persistent_load(self, saved_id: Any) -> Any:
        return self._storage(saved_id)


class _Frozen:
    """An allow-listed global: pickle's BUILD (setting state) on it is refused, so a file cannot alter it."""

    __slots__ = ("qualname",)

    def __setstate__(self, state: Any) -> None:
        raise UnsafeCheckpointError(f"refuses to set state on '{self.qualname}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "qualname"):
            raise UnsafeCheckpointError(f"refuses to set attribute {name!r} on '{self.qualname}'")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return self.qualname


class _Function(_Frozen):
    __slots__ = ("function",)

    def __init__(self, qualname: str, function: Callable[..., Any]):
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "qualname", qualname)

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)


class _StorageType(_Frozen):
    __slots__ = ("torch_dtype",)

    def __init__(self, qualname: str, torch_dtype: str):
        object.__setattr__(self, "torch_dtype", torch_dtype)
        object.__setattr__(self, "qualname", qualname)

    @property
    def dtype(self) -> np.dtype:
        return _numpy_dtype(self.torch_dtype)


def _numpy_dtype(torch_name: str) -> np.dtype:
    spec = _DTYPES[torch_name]
    if spec.startswith("ml_dtypes:"):
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, spec.split(":", 1)[1]))
    return np.dtype(spec)


class _TorchDType(_Frozen):
    """A ``torch.<dtype>`` global (an argument of `_rebuild_tensor_v3`, or a value in a checkpoint)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "qualname", f"torch.{name}")

    @property
    def numpy(self) -> np.dtype:
        return _numpy_dtype(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _TorchDType) and other.numpy == self.numpy

    def __hash__(self) -> int:
        return hash(self.numpy)


# ---------------------------------------------------------------------------------- rebuild functions


def _strided(storage: np.ndarray, offset: Any, size: Any, stride: Any) -> np.ndarray:
    """The tensor view of `storage`, bounds-checked, copied so it owns contiguous memory."""
    size, stride = tuple(size), tuple(stride)
    if not (
        _is_count(offset) and all(map(_is_count, size)) and all(map(_is_count, stride)) and len(size) == len(stride)
    ):
        raise ValueError(f"malformed tensor: offset {offset!r}, size {size!r}, stride {stride!r}")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise ValueError(
            f"tensor of size {size}, stride {stride}, offset {offset} reaches past its storage "
            f"of {storage.size} elements"
        )
    view = as_strided(storage[offset:], shape=size, strides=[s * storage.itemsize for s in stride], writeable=False)
    return view.copy()


def _with_metadata(array: np.ndarray, metadata: Any) -> np.ndarray:
    """Applies torch's lazy conjugate/negative bits, which `torch.save` stores beside the raw data."""
    if metadata:
        if not isinstance(metadata, dict):
            raise ValueError(f"malformed tensor metadata {metadata!r}")
        if metadata.get("conj"):
            array = np.conj(array)
        if metadata.get("neg"):
            array = np.negative(array)
    return array


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> np.ndarray | None:
    if storage is None:  # first pass over a legacy file: the storage bytes are read afterwards
        return None
    return _strided(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> np.ndarray | None:
    if storage is None:
        return None
    return _with_metadata(_strided(storage, storage_offset, size, stride), metadata)


def _rebuild_tensor_v3(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    dtype: Any,
    metadata: Any = None,
) -> np.ndarray | None:
    if storage is None:
        return None
    if not isinstance(dtype, _TorchDType):
        raise ValueError(f"tensor dtype {dtype!r} is not a torch dtype")
    raw = storage.view(np.uint8)
    target = dtype.numpy
    usable = raw[: raw.size - raw.size % target.itemsize]
    return _with_metadata(_strided(usable.view(target), storage_offset, size, stride), metadata)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> Any:
    return data


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, backward_hooks: Any, state: Any) -> Any:
    return data


def _numpy_dtype_global(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    """``numpy.dtype`` as pickled for a NumPy scalar: plain numeric and bool types only, always a fresh copy."""
    if not isinstance(spec, str):
        raise ValueError(f"numpy dtype {spec!r} is not a type string")
    dtype = np.dtype(spec)
    if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"numpy dtype {spec!r} is not a plain numeric type")
    return np.dtype(spec, align=bool(align), copy=True)


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar``: a numeric scalar from its raw bytes."""
    if not (
        isinstance(dtype, np.dtype)
        and dtype.kind in "biufc"
        and not dtype.hasobject
        and dtype.fields is None
        and dtype.subdtype is None
    ):
        raise ValueError(f"numpy scalar of dtype {dtype!r} is not a plain numeric type")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise ValueError(f"numpy scalar of dtype {dtype} needs {dtype.itemsize} bytes")
    return np.frombuffer(data, dtype=dtype)[0]


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError(f"refuses _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _allowed() -> dict[tuple[str, str], Any]:
    functions: dict[tuple[str, str], Callable[..., Any]] = {
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch", "Size"): tuple,
        ("numpy", "dtype"): _numpy_dtype_global,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
        ("_codecs", "encode"): _codecs_encode,
    }
    allowed: dict[tuple[str, str], Any] = {key: _Function(".".join(key), fn) for key, fn in functions.items()}
    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    for module in ("builtins", "__builtin__"):
        allowed[(module, "set")] = set
        allowed[(module, "frozenset")] = frozenset
    for storage, dtype in _STORAGES.items():
        allowed[("torch", storage)] = _StorageType(f"torch.{storage}", dtype)
        if storage != "UntypedStorage":  # old torch pickled the storages of GPU tensors as torch.cuda.*
            allowed[("torch.cuda", storage)] = _StorageType(f"torch.cuda.{storage}", dtype)
    allowed[("torch.storage", "UntypedStorage")] = _StorageType("torch.storage.UntypedStorage", "uint8")
    for dtype in _DTYPES:
        allowed[("torch", dtype)] = _TorchDType(dtype)
    return allowed


_ALLOWED = _allowed()
