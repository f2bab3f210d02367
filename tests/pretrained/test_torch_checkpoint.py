"""The torch-free checkpoint reader: both `torch.save` formats, written here without torch, and refusals.

The checkpoints are written with the pure-Python pickler: stand-ins pickle as ``GLOBAL 'torch._utils
_rebuild_tensor_v2'`` and the like (names only: nothing is imported), storages go through `persistent_id`
exactly as `torch.save` writes them.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from keras_audio.pretrained import torch_checkpoint
from keras_audio.pretrained.torch_checkpoint import UnsafeCheckpointError

STORAGE_NAMES = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "int16": "ShortStorage",
    "int8": "CharStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}


class Global:
    """A global by name, pickled as the GLOBAL opcode and never looked up."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):
        return Call(self, args)


class Call:
    def __init__(self, function: Global, args: tuple):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


class Storage:
    """A torch storage stand-in: a key and a flat array; `view` makes a legacy storage view of it."""

    def __init__(
        self, key: str, data: np.ndarray, untyped: bool = False, view: tuple | None = None, short_id: bool = False
    ):
        self.key, self.data, self.untyped, self.view = key, np.ascontiguousarray(data).reshape(-1), untyped, view
        self.short_id = short_id  # a legacy id without the view slot, as older torch wrote it


class TorchPickler(pickle._Pickler):
    """Writes storages as persistent ids ``('storage', type, key, 'cpu', numel[, view])`` like `torch.save`."""

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[Global] = lambda self, g: self.write(pickle.GLOBAL + f"{g.module}\n{g.name}\n".encode())

    def __init__(self, file, legacy: bool):
        super().__init__(file, protocol=2)
        self.legacy = legacy
        self.storages: dict[str, Storage] = {}

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        self.storages[obj.key] = obj
        name = "UntypedStorage" if obj.untyped else STORAGE_NAMES[obj.data.dtype.name]
        saved = ("storage", Global("torch", name), obj.key, "cpu", obj.data.size)
        return saved + (obj.view,) if self.legacy and not obj.short_id else saved


def tensor(storage: Storage, offset: int, size: tuple, stride: tuple):
    hooks = collections.OrderedDict()
    return Global("torch._utils", "_rebuild_tensor_v2")(storage, offset, size, stride, False, hooks)


def write_zip(path: Path, obj, prefix: str = "archive") -> Path:
    buffer = io.BytesIO()
    pickler = TorchPickler(buffer, legacy=False)
    pickler.dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", buffer.getvalue())
        archive.writestr(f"{prefix}/byteorder", "little")
        for key, storage in pickler.storages.items():
            archive.writestr(f"{prefix}/data/{key}", storage.data.tobytes())
        archive.writestr(f"{prefix}/version", "3\n")
    return path


def write_legacy(path: Path, obj) -> Path:
    with open(path, "wb") as file:
        for header in (
            torch_checkpoint.LEGACY_MAGIC_NUMBER,
            torch_checkpoint.LEGACY_PROTOCOL_VERSION,
            {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}},
        ):
            pickle.dump(header, file, protocol=2)
        pickler = TorchPickler(file, legacy=True)
        pickler.dump(obj)
        keys = sorted(pickler.storages)
        pickle.dump(keys, file, protocol=2)
        for key in keys:
            data = pickler.storages[key].data
            file.write(struct.pack("<q", data.size))
            file.write(data.tobytes())
    return path


def state_and_expected():
    """A state dict with several dtypes, views that share one storage, a parameter and nested containers."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal(30).astype(np.float32)
    shared = Storage("0", base)
    grid = base.reshape(6, 5)
    arrays = {
        "grid": grid,
        "transposed": grid.T,
        "offset_view": grid[2:, 1:4],
        "f64": rng.standard_normal((2, 3)),
        "f16": rng.standard_normal(7).astype(np.float16),
        "bf16": rng.standard_normal((2, 2)).astype(ml_dtypes.bfloat16),
        "i64": np.arange(10, dtype=np.int64),
        "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "i16": np.arange(-3, 3, dtype=np.int16),
        "i8": np.arange(-4, 4, dtype=np.int8),
        "u8": np.arange(250, 256, dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array(7, dtype=np.int64),
    }
    state = collections.OrderedDict()
    state["grid"] = tensor(shared, 0, (6, 5), (5, 1))
    state["transposed"] = tensor(shared, 0, (5, 6), (1, 5))
    state["offset_view"] = tensor(shared, 11, (4, 3), (5, 1))
    for i, name in enumerate(["f64", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool", "scalar"], 1):
        array = arrays[name]
        strides = tuple(s // array.itemsize for s in array.strides)
        state[name] = tensor(Storage(str(i), array), 0, array.shape, strides)
    weight = rng.standard_normal((2, 2)).astype(np.float32)
    arrays["param"] = weight
    state["param"] = Global("torch._utils", "_rebuild_parameter")(
        tensor(Storage("20", weight), 0, (2, 2), (2, 1)), True, collections.OrderedDict()
    )
    obj = {"model_state": state, "step": 12, "nested": (1, 2.5, "x", [tensor(shared, 29, (1,), (1,)), {"k": None}])}
    return obj, arrays, base


def check(loaded, arrays, base):
    state = loaded["model_state"]
    assert isinstance(state, collections.OrderedDict)
    assert list(state) == list(arrays)
    for name, expected in arrays.items():
        got = state[name]
        assert isinstance(got, np.ndarray), name
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        assert got.flags.c_contiguous and got.flags.owndata, name
        np.testing.assert_array_equal(got, expected, err_msg=name)
    assert loaded["step"] == 12
    one, two_and_half, text, inner = loaded["nested"]
    assert (one, two_and_half, text) == (1, 2.5, "x") and isinstance(loaded["nested"], tuple)
    assert isinstance(inner, list) and inner[1] == {"k": None}
    np.testing.assert_array_equal(inner[0], base[29:30])


def test_zip_format_round_trip(tmp_path):
    obj, arrays, base = state_and_expected()
    check(torch_checkpoint.load(write_zip(tmp_path / "model.pt", obj, prefix="model")), arrays, base)


def test_legacy_format_round_trip(tmp_path):
    obj, arrays, base = state_and_expected()
    check(torch_checkpoint.load(write_legacy(tmp_path / "model.pt", obj)), arrays, base)


def test_legacy_storage_view_and_old_persistent_id(tmp_path):
    data = np.arange(12, dtype=np.float32)
    view = Storage("root", data, view=("view", 4, 6))  # elements 4..9 of the root storage
    obj = {"v": tensor(view, 1, (2, 2), (1, 2)), "all": tensor(Storage("root", data, short_id=True), 0, (12,), (1,))}
    loaded = torch_checkpoint.load(write_legacy(tmp_path / "view.pt", obj))
    np.testing.assert_array_equal(loaded["v"], np.array([[5, 7], [6, 8]], dtype=np.float32))
    np.testing.assert_array_equal(loaded["all"], data)


def test_zip_untyped_storage_with_rebuild_v3_and_numpy_scalar(tmp_path):
    values = np.array([1, 2, 65535], dtype=np.uint16)
    raw = Storage("0", values.view(np.uint8), untyped=True)
    rebuild = Global("torch._utils", "_rebuild_tensor_v3")
    obj = (
        {"u16": rebuild(raw, 0, (3,), (1,), False, collections.OrderedDict(), Global("torch", "uint16"))},
        {"index": (np.int64(3), 78)},
    )
    loaded = torch_checkpoint.load(write_zip(tmp_path / "v3.pt", obj))
    assert loaded[0]["u16"].dtype == np.uint16
    np.testing.assert_array_equal(loaded[0]["u16"], values)
    assert loaded[1] == {"index": (np.int64(3), 78)} and isinstance(loaded[1]["index"][0], np.int64)


class Malicious:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"echo pwned > {self.marker}",)


@pytest.mark.parametrize("write", [write_zip, write_legacy])
def test_code_in_a_checkpoint_is_refused(tmp_path, write):
    marker = tmp_path / "marker"
    weights = np.ones(3, dtype=np.float32)
    path = write(tmp_path / "evil.pt", {"w": tensor(Storage("0", weights), 0, (3,), (1,)), "x": Malicious(marker)})
    refused = f"'{os.system.__module__}.system'"
    with pytest.raises(UnsafeCheckpointError, match=refused) as caught:
        torch_checkpoint.load(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert not marker.exists()


def test_setting_state_on_an_allowed_global_is_refused(tmp_path):
    # GLOBAL torch._utils._rebuild_tensor_v2, then BUILD with slot state {'__defaults__': (1,)}
    payload = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00\x00__defaults__K\x01\x85s\x86b."
    path = tmp_path / "state.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
    with pytest.raises(UnsafeCheckpointError, match="refuses to set state"):
        torch_checkpoint.load(path)


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
    path = write_zip(tmp_path / "oob.pt", {"w": tensor(Storage("0", np.zeros(4, np.float32)), 2, (2, 2), (2, 1))})
    with pytest.raises(ValueError, match="reaches past its storage"):
        torch_checkpoint.load(path)


@pytest.mark.parametrize("write", [write_zip, write_legacy])
def test_truncated_file_names_the_file(tmp_path, write):
    obj, _arrays, _base = state_and_expected()
    path = write(tmp_path / "cut.pt", obj)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(ValueError, match="cut.pt: .*truncated") as caught:
        torch_checkpoint.load(path)
    assert not isinstance(caught.value, UnsafeCheckpointError) and "\n" not in str(caught.value)


def test_not_a_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt: not a torch.save file"):
        torch_checkpoint.load(path)
    with pytest.raises(ValueError, match="missing.pt: no such file"):
        torch_checkpoint.load(tmp_path / "missing.pt")
