"""TFLite (LiteRT) and ONNX copies of a waveform classifier, each reloaded and compared with the Keras model.

- `export_tflite`: a LiteRT flatbuffer with TFLite builtin ops only (no Flex/Select TF ops, so the plain
  LiteRT runtime runs it), converted by Keras' LiteRT exporter (ExportArchive -> SavedModel ->
  `tf.lite.TFLiteConverter`). Its input is fixed: float32 `[1, clip_samples]`, one clip at a time. A
  variable batch or length leaves the recurrent layers' TensorList element shapes dynamic, which the builtin
  converter cannot lower ("TensorListReserve requires element_shape to be static"); at a fixed shape every
  Keras family converts. Read with `ai_edge_litert.interpreter.Interpreter` (`tf.lite.Interpreter` is
  deprecated).
- `export_onnx`: ONNX (opset `ONNX_OPSET`) by tf2onnx from the model's inference function, float32
  `[batch, samples]` of any batch and length, run with onnxruntime. tf2onnx converts an RFFT only when its
  consumer is `ComplexAbs`, while the log-mel computes the power as `re² + im²` (faster than `|X|²`); a graph
  rewrite here (`_rewrite_power_spectrum`) hands tf2onnx that power as one node it converts to
  `Gather(re)² + Gather(im)²`, the same arithmetic.

The files hold the bare model, without the SavedModel's refusals; the predictors here refuse what the
SavedModel refuses before running it (`export.checked_waveforms`: a rank other than 2, an empty batch, fewer
than `min_samples` samples, NaN or infinite samples), so a NaN clip is not answered with a label. Each export
returns the largest absolute difference from the Keras model on the given waveforms and raises
`ExportMismatchError` beyond `atol`.

Which families convert (measured on tiny builds of every family, 0.5 s at 8 kHz, and on the default Conv1D,
Conv2D and CRNN, 2 s at 16 kHz): conv1d, conv2d, crnn, vgg, lstm, ae_clf, ae_clf_joint, mlp_features and
transfer (on a suite-trained encoder, from its model.keras or its SavedModel) all convert to both formats,
within 1.2e-6 of Keras. The scikit-learn baselines are not Keras models and have no TFLite or ONNX copy (their
estimator is a joblib pickle); a transfer model on an outside SavedModel encoder converts only if that
encoder's ops do.

`add_format_copies(export_dir, formats)` adds the copies to an export written earlier (`keras-audio export`):
the export's `model.keras` is converted, each copy is checked as a run checks it (on `probe_waveforms` when no
test clips are given), and metadata.json lists them under ``formats`` (an entry only metadata.json holds:
`export.FILE_ONLY_KEYS`), its model card refreshed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_audio.export import (
    FILE_ONLY_KEYS,
    KERAS_FILE,
    METADATA_FILE,
    SIGNATURE_INPUT,
    SIGNATURE_OUTPUT,
    ExportMismatchError,
    checked_waveforms,
    write_metadata_file,
)

FORMAT_ATOL = 1e-4  # float32 kernels differ in summation order; measured differences are ~1e-7 to 2e-6
ONNX_OPSET = 17
TFLITE_FILE = "model.tflite"
ONNX_FILE = "model.onnx"
# format -> (file in the export folder, the modules its conversion and check need, how to install them)
FORMAT_FILES = {"tflite": TFLITE_FILE, "onnx": ONNX_FILE}
CONVERTERS = {
    "tflite": (("ai_edge_litert",), "pip install ai-edge-litert"),
    "onnx": (("tf2onnx", "onnxruntime"), "pip install tf2onnx onnxruntime"),
}
PROBE_CLIPS = 4


class FormatConversionError(RuntimeError):
    """The converter refused the model (the message gives the converter's reason)."""


def _probe(waveforms) -> np.ndarray:
    waveforms = np.asarray(waveforms, np.float32)
    if waveforms.ndim != 2 or waveforms.shape[0] == 0 or waveforms.shape[1] == 0:
        raise ValueError(f"waveforms must be a non-empty [batch, samples] probe, got shape {waveforms.shape}")
    if not np.all(np.isfinite(waveforms)):
        raise ValueError("waveforms: the probe holds NaN or infinite samples")
    return waveforms


def _compare(name: str, path: Path, exported: np.ndarray, expected: np.ndarray, atol: float) -> float:
    if exported.shape != expected.shape:
        raise ExportMismatchError(
            f"{path}: the {name} copy answers shape {exported.shape}, the Keras model {expected.shape}"
        )
    difference = float(np.max(np.abs(exported - expected)))
    if not difference <= atol:
        raise ExportMismatchError(
            f"{path}: reloaded {name} differs from the Keras model by {difference:.3g} (> {atol:g})"
        )
    return difference


def _reason(error: Exception) -> str:
    """The converter's own explanation: its last line that says ``error``, else its last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [type(error).__name__])[-1][:500]


# ---------------------------------------------------------------------- TFLite / LiteRT
def tflite_predictor(path: str | os.PathLike):
    """`waveforms [batch, clip_samples] -> probabilities [batch, classes]` through the LiteRT interpreter.

    Refuses what the SavedModel refuses (`export.checked_waveforms`), and any length but the file's.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (waveform_input,), (output,) = interpreter.get_input_details(), interpreter.get_output_details()
    length = int(waveform_input["shape"][1])

    def predict(waveforms) -> np.ndarray:
        waveforms = checked_waveforms(path, waveforms, length=length)
        rows = []
        for row in waveforms:  # the flatbuffer's batch is 1
            interpreter.set_tensor(waveform_input["index"], row[None])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(output["index"])[0].copy())
        return np.stack(rows)

    predict.input_samples = length
    predict.num_classes = int(output["shape"][-1])
    return predict


def export_tflite(
    model: keras.Model,
    path: str | os.PathLike,
    waveforms,
    *,
    clip_samples: int | None = None,
    atol: float = FORMAT_ATOL,
) -> float:
    """Write `model` as a LiteRT flatbuffer (builtin ops, input `[1, clip_samples]`), reload, compare.

    Args:
        model: waveforms `[batch, samples]` -> probabilities.
        path: the file to write (``.tflite``).
        waveforms: `[batch, clip_samples]` clips to compare the two on (e.g. real test clips).
        clip_samples: the fixed input length; None: `waveforms.shape[1]`.
        atol: the largest absolute difference in probability accepted.

    Returns:
        the largest absolute difference between the LiteRT and Keras probabilities on `waveforms`.

    Raises:
        FormatConversionError: the converter refused the model.
        ExportMismatchError: the reloaded copy differs by more than `atol`.
    """
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"{path}: a LiteRT file must end with .tflite")
    waveforms = _probe(waveforms)
    clip_samples = waveforms.shape[1] if clip_samples is None else clip_samples
    if clip_samples != waveforms.shape[1]:
        raise ValueError(
            f"export_tflite: the probe has {waveforms.shape[1]} samples per clip, clip_samples is "
            f"{clip_samples}: compare at the length exported"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        model.export(
            str(path),
            format="litert",
            verbose=False,
            input_signature=[tf.TensorSpec([1, clip_samples], tf.float32, name=SIGNATURE_INPUT)],
            target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
        )
    except Exception as error:  # the converter raises ConverterError, RuntimeError, ValueError...
        raise FormatConversionError(
            f"{model.name}: TFLite conversion with builtin ops failed: {_reason(error)}"
        ) from error
    expected = model(tf.constant(waveforms), training=False).numpy()
    return _compare("TFLite", path, tflite_predictor(path)(waveforms), expected, atol)


# ---------------------------------------------------------------------- ONNX
_POWER_NODE = "KerasAudioPowerSpectrum"  # name prefix of the nodes `_rewrite_power_spectrum` makes


def _rewrite_power_spectrum(graph, ops):
    """tf2onnx rewriter: `Square(Real(x)) + Square(Imag(x))` with `x = RFFT(...)` -> one power node on `x`.

    The node is typed ``ComplexAbs`` (the only RFFT consumer tf2onnx's RFFT conversion accepts) and named
    with `_POWER_NODE`, so `_power_or_complex_abs` converts it to the power, not the magnitude.
    """
    from tf2onnx import utils
    from tf2onnx.graph_matcher import GraphMatcher, OpTypePattern

    pattern = OpTypePattern(
        "AddV2|Add",
        name="sum",
        inputs=[
            OpTypePattern(
                "Square",
                name="real_squared",
                inputs=[OpTypePattern("Real", name="real", inputs=[OpTypePattern("RFFT", name="rfft")])],
            ),
            OpTypePattern("Square", name="imag_squared", inputs=[OpTypePattern("Imag", name="imag", inputs=["*"])]),
        ],
    )
    for match in list(GraphMatcher(pattern, allow_reorder=True).match_ops(ops)):
        total, rfft, imag = match.get_op("sum"), match.get_op("rfft"), match.get_op("imag")
        if imag.input[0] != rfft.output[0]:
            continue  # the real and imaginary parts of different transforms
        shape, dtype = graph.get_shape(total.output[0]), graph.get_dtype(total.output[0])
        power = graph.make_node(
            "ComplexAbs",
            [rfft.output[0]],
            attr={"Tout": dtype},
            skip_conversion=False,
            name=utils.make_name(_POWER_NODE),
            shapes=[shape],
            dtypes=[dtype],
        )
        ops.append(power)
        graph.replace_all_inputs(total.output[0], power.output[0], ops=ops)
        graph.safe_remove_nodes(
            [total, match.get_op("real_squared"), match.get_op("imag_squared"), match.get_op("real"), imag]
        )
    return ops


def _power_or_complex_abs(ctx, node, name, args):
    """tf2onnx handler for ComplexAbs: the power `re² + im²` for `_POWER_NODE` nodes, else the usual `|x|`.

    tf2onnx's RFFT conversion stores a complex tensor as a real one with the (real, imaginary) parts on axis 0.
    """
    from tf2onnx import utils
    from tf2onnx.graph_builder import GraphBuilder
    from tf2onnx.onnx_opset.signal import ComplexAbsOp

    if not node.name.startswith(_POWER_NODE):
        return ComplexAbsOp.any_version(ctx.opset, ctx, node)
    squares = []
    for part in (0, 1):
        index = ctx.make_const(utils.make_name(f"{_POWER_NODE}_part"), np.array([part], np.int64))
        values = ctx.make_node("Gather", [node.input[0], index.output[0]], attr={"axis": 0})
        squares.append(ctx.make_node("Mul", [values.output[0], values.output[0]]))
    total = ctx.make_node("Add", [squares[0].output[0], squares[1].output[0]])
    power = GraphBuilder(ctx).make_squeeze({"data": total.output[0], "axes": [0]}, return_node=True)
    ctx.replace_all_inputs(node.output[0], power.output[0])
    ctx.remove_node(node.name)
    return None


def onnx_predictor(path: str | os.PathLike, min_samples: int = 1):
    """`waveforms [batch, samples] -> probabilities [batch, classes]` through onnxruntime (CPU).

    Args:
        min_samples: the fewest samples answered (the export's `min_samples`, one analysis window; the file
            does not record it): shorter input is refused, as is what else the SavedModel refuses
            (`export.checked_waveforms`).
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (waveform_input,) = session.get_inputs()

    def predict(waveforms) -> np.ndarray:
        waveforms = checked_waveforms(path, waveforms, min_samples)
        return session.run(None, {waveform_input.name: waveforms})[0]

    classes = session.get_outputs()[0].shape[-1]
    predict.num_classes = classes if isinstance(classes, int) else None
    return predict


def export_onnx(
    model: keras.Model, path: str | os.PathLike, waveforms, *, atol: float = FORMAT_ATOL, opset: int = ONNX_OPSET
) -> float:
    """Write `model` as ONNX (input ``waveform`` float32 `[batch, samples]`, output ``probabilities``),
    reload it with onnxruntime, compare with the Keras model on `waveforms`.

    Returns:
        the largest absolute difference between the ONNX and Keras probabilities on `waveforms`.

    Raises:
        FormatConversionError: tf2onnx refused the model.
        ExportMismatchError: the reloaded copy differs by more than `atol`.
    """
    import tf2onnx

    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"{path}: an ONNX file must end with .onnx")
    waveforms = _probe(waveforms)
    path.parent.mkdir(parents=True, exist_ok=True)
    inference = tf.function(lambda waveform: {SIGNATURE_OUTPUT: model(waveform, training=False)})
    converter_log = logging.getLogger("tf2onnx")
    level = converter_log.level
    converter_log.setLevel(logging.ERROR)  # its INFO lines report versions and op counts on every export
    try:
        tf2onnx.convert.from_function(
            inference,
            input_signature=[tf.TensorSpec([None, None], tf.float32, name=SIGNATURE_INPUT)],
            opset=opset,
            custom_rewriter=[_rewrite_power_spectrum],
            custom_op_handlers={"ComplexAbs": (_power_or_complex_abs, [])},
            output_path=str(path),
        )
    except Exception as error:  # tf2onnx raises ValueError, RuntimeError, KeyError...
        raise FormatConversionError(f"{model.name}: ONNX conversion failed: {_reason(error)}") from error
    finally:
        converter_log.setLevel(level)
    try:
        predict = onnx_predictor(path)
    except Exception as error:  # onnxruntime refuses an invalid graph (an op left unconverted) on loading
        raise FormatConversionError(f"{model.name}: the ONNX file does not load: {_reason(error)}") from error
    expected = model(tf.constant(waveforms), training=False).numpy()
    return _compare("ONNX", path, predict(waveforms), expected, atol)


# ---------------------------------------------------------------------- copies of an existing export
def probe_waveforms(clip_samples: int, sample_rate: int, clips: int = PROBE_CLIPS, seed: int = 0) -> np.ndarray:
    """`[clips, clip_samples]` seeded test signals for the copies' check when no test clips are at hand: tones
    (a few harmonics at voice-like pitches) in a little noise, at moderate levels."""
    rng = np.random.default_rng(seed)
    time = np.arange(clip_samples) / sample_rate
    waveforms = []
    for _ in range(clips):
        pitch = rng.uniform(90.0, 300.0)
        tone = sum(np.sin(2 * np.pi * pitch * k * time + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
        waveforms.append(0.1 * tone + 0.01 * rng.standard_normal(clip_samples))
    return np.asarray(waveforms, np.float32)


def check_converter(name: str) -> None:
    """Refuse a format whose converter or runtime is not installed, saying what to install."""
    if name not in FORMAT_FILES:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(FORMAT_FILES)}")
    modules, install = CONVERTERS[name]
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise FormatConversionError(f"the {name} converter is missing (no module {', '.join(missing)}): {install}")


def add_format_copies(
    export_dir: str | os.PathLike,
    formats: Sequence[str],
    metadata: Mapping,
    *,
    probe: np.ndarray | None = None,
    extra_metadata: Mapping | None = None,
) -> dict:
    """Convert an export's `model.keras` to each of `formats`, check each copy against it, and list them in the
    folder's metadata.json (refreshing its model card).

    Args:
        export_dir: an export folder with `model.keras` (`export.export_model`).
        formats: ``tflite`` and/or ``onnx``.
        metadata: the export's metadata (`loader.export_metadata`); written back with the new entries.
        probe: `[clips, clip_samples]` clips to compare on; None: `probe_waveforms`.
        extra_metadata: more entries only metadata.json holds (`export.FILE_ONLY_KEYS`, e.g. ``measured``).

    Returns:
        format -> ``{file, max_abs_difference, tolerance}``, the entries added under ``formats``.

    Raises:
        ValueError: an unknown format, no `model.keras`, an entry outside `FILE_ONLY_KEYS`.
        FormatConversionError: a converter missing or refusing the model (nothing is left of its file).
        ExportMismatchError: a copy differs from the Keras model beyond `FORMAT_ATOL` (its file is removed).
    """
    export_dir = Path(export_dir)
    for name in formats:
        check_converter(name)
    extra_metadata = dict(extra_metadata or {})
    if set(extra_metadata) - set(FILE_ONLY_KEYS):
        raise ValueError(
            f"add_format_copies: {sorted(set(extra_metadata) - set(FILE_ONLY_KEYS))} would make "
            f"{METADATA_FILE} disagree with the SavedModel; only {list(FILE_ONLY_KEYS)} may be added"
        )
    added = {}
    if formats:
        if not (export_dir / KERAS_FILE).is_file():
            raise ValueError(
                f"{export_dir}: no {KERAS_FILE} to convert (only a Keras model has TFLite and ONNX copies)"
            )
        from keras_audio.models import registry

        registry.available()  # imports every family, registering the suite's custom layers with Keras
        model = keras.models.load_model(export_dir / KERAS_FILE, compile=False)
        if probe is None:
            probe = probe_waveforms(int(metadata["clip_samples"]), int(metadata["sample_rate"]))
        for name in dict.fromkeys(formats):
            path = export_dir / FORMAT_FILES[name]
            try:
                difference = export_tflite(model, path, probe) if name == "tflite" else export_onnx(model, path, probe)
            except Exception:
                path.unlink(missing_ok=True)  # no unchecked copy is left in the folder
                raise
            added[name] = {"file": path.name, "max_abs_difference": difference, "tolerance": FORMAT_ATOL}
    updated = {**metadata, **extra_metadata}
    if added:
        updated["formats"] = {**(metadata.get("formats") or {}), **added}
    write_metadata_file(export_dir, updated)
    return added
