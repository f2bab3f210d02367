"""Where a model's time goes, op type by op type: the profile behind `speed.py`'s fractions of matmul.

    python benchmarks/op_profile.py                                  # conv1d, conv2d, crnn: training and inference
    python benchmarks/op_profile.py --models conv2d --steps 5        # one model, fewer steps
    python benchmarks/op_profile.py --json results/op-profile.json   # also the figures as JSON
    python benchmarks/op_profile.py --models conv1d --by layer       # per layer: front-end, batch norm, ...

For each model (built untrained from the registry, the default features, 2-s clips at 16 kHz):

- **training**: training steps (`train_on_batch`, the compiled step `fit` runs) at `--batch` (the default
  run's 32) on random waveforms, a quarter of them with
  0.19 s of leading zeros (padding, as a test set has), compiled as `training.compile_classifier` compiles
  them, with op determinism on as in a run;
- **inference**: the model called on `--inference-batch` (evaluation's 256) clips in a `tf.function`.

TensorFlow's profiler traces `--steps` of each (after warm-up steps) and its ``framework_op_stats`` tool sums
each op type's *self* time on the host (the time inside its kernel, not its children). The table gives ms per
step and the share of the busy time (idle thread time left out); ``kernels`` is the share of the op types
that do the model's arithmetic (convolutions, matrix products, FFTs, recurrent cells), the rest being data
movement and elementwise passes (batch norm, ReLU, masks, pooling, casts). A stage far below the matmul rate
with kernels at a small share is bound by memory traffic between ops, not by arithmetic.

``--by layer`` sums the same self times per Keras layer instead (the layer's name in the op's name scope,
its forward and gradient ops apart; the optimizer's update ops as one row): which part of the model the time
is spent in, e.g. the front-end's share of a Conv1D step. The kernels' share is still taken by op type.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# Op types whose work is the model's arithmetic (matched as substrings of TensorFlow's op type names,
# oneDNN's `_MklNative...` variants included).
KERNEL_OPS = ("Conv2D", "Conv3D", "MatMul", "RFFT", "FFT", "CudnnRNN", "GRUBlockCell", "LSTMBlockCell")
IDLE = "IDLE"


@dataclasses.dataclass(frozen=True)
class OpTime:
    """One op type's self time: `ms` per step and `share` of the busy time (0..1)."""

    op_type: str
    ms: float
    share: float


@dataclasses.dataclass(frozen=True)
class OpProfile:
    """A traced stage: busy ms per step, the kernels' share of it, and every op type (largest first), or
    every layer when `grouped_by` is ``layer`` (`OpTime.op_type` then holds the layer's row name)."""

    stage: str
    busy_ms: float
    kernel_share: float
    ops: list[OpTime]
    grouped_by: str = "op type"


def is_kernel(op_type: str) -> bool:
    return any(name in op_type for name in KERNEL_OPS)


def op_rows(xplane_path: str | Path) -> list[tuple[str, str, float]]:
    """`(op type, op name, self time in µs)` of every host op in a profiler trace file (``*.xplane.pb``)."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    data, _ = plugin.xspace_to_tools_data([str(xplane_path)], "framework_op_stats", {})
    table = json.loads(data)
    table = table[0] if isinstance(table, list) else table
    columns = [column.get("label", column.get("id")) for column in table["cols"]]
    rows = []
    for row in table["rows"]:
        values = dict(zip(columns, (cell.get("v") for cell in row["c"])))
        if values.get("Host/device", "Host") == "Host":
            rows.append(
                (values["Operation Type"], str(values.get("Operation Name", "")), float(values["Total self-time (us)"]))
            )
    return rows


def layer_of(op_name: str, layer_names: Collection[str]) -> str:
    """The row an op's time goes to with ``--by layer``: ``LAYER`` or ``LAYER (gradient)`` for the first
    scope of `op_name` naming a layer (Keras suffixes scopes with ``_1``, ``_2``, ... when it traces a model
    again), ``(optimizer)`` for the update ops, ``(other)`` for the rest (casts, the loss, input handling)."""
    scopes = op_name.split("/")
    if any("adam" in scope.lower() or scope.lower().startswith("optimizer") for scope in scopes):
        return "(optimizer)"
    for scope in scopes[1:]:  # the first scope is the model's (or the gradient tape's)
        name = re.sub(r"_\d+$", "", scope)
        if name in layer_names:
            return f"{name} (gradient)" if scopes[0] == "gradient_tape" else name
    return "(other)"


def _summed(items) -> dict[str, float]:
    totals: dict[str, float] = {}
    for key, us in items:
        totals[key] = totals.get(key, 0.0) + us
    return totals


def profile(
    stage: str, step: Callable[[], None], steps: int, warmup: int = 2, layers: Collection[str] | None = None
) -> OpProfile:
    """Trace `steps` calls of `step` (after `warmup` untraced ones) and sum the op types' self time, or the
    layers' (`layer_of`) when `layers` names them.

    Raises:
        ValueError: `steps` < 1, or the trace holds no op (the profiler did not record).
    """
    if steps < 1:
        raise ValueError(f"op_profile: steps must be >= 1, got {steps!r}")
    for _ in range(warmup):
        step()
    with tempfile.TemporaryDirectory(prefix="op-profile-") as folder:
        tf.profiler.experimental.start(folder)
        try:
            for _ in range(steps):
                step()
        finally:
            tf.profiler.experimental.stop()
        traces = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)
        if not traces:
            raise ValueError(f"op_profile: the profiler wrote no trace for {stage}")
        rows = [(op_type, name, us) for op_type, name, us in op_rows(traces[0]) if op_type != IDLE and us > 0]
    total = sum(us for _, _, us in rows)
    if total <= 0:
        raise ValueError(f"op_profile: the trace of {stage} holds no op time")
    kernel_share = sum(us for op_type, _, us in rows if is_kernel(op_type)) / total
    groups = _summed(((op_type if layers is None else layer_of(name, layers)), us) for op_type, name, us in rows)
    ops = [OpTime(key, us / 1e3 / steps, us / total) for key, us in sorted(groups.items(), key=lambda kv: -kv[1])]
    return OpProfile(stage, total / 1e3 / steps, kernel_share, ops, "op type" if layers is None else "layer")


def waveforms(batch: int, clip_samples: int, seed: int = 0) -> np.ndarray:
    """Random clips at speech level; every fourth starts with 0.19 s of zeros (padding to align and mask)."""
    rng = np.random.default_rng(seed)
    clips = (rng.standard_normal((batch, clip_samples)) * 0.1).astype(np.float32)
    clips[::4, : min(3000, clip_samples // 4)] = 0.0
    return clips


def model_profiles(
    name: str,
    batch: int,
    inference_batch: int,
    steps: int,
    clip_samples: int = 32000,
    sample_rate: int = 16000,
    by_layer: bool = False,
) -> list[OpProfile]:
    """The training-step and inference-batch profiles of the registry's model `name` (untrained), per op
    type or, `by_layer`, per layer."""
    import keras

    from keras_audio.config import FeatureConfig
    from keras_audio.models.registry import build_model
    from keras_audio.training import compile_classifier

    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()  # as a run trains
    model = build_model(name, 2, sample_rate, FeatureConfig())
    compile_classifier(model, 1e-3)
    x = tf.constant(waveforms(batch, clip_samples))
    y = tf.constant(np.arange(batch) % 2)

    def training_step():
        model.train_on_batch(x, y)  # the compiled step `fit` runs, on one batch

    inputs = tf.constant(waveforms(inference_batch, clip_samples, seed=1))
    forward = tf.function(lambda w: model(w, training=False))

    def inference_step():
        forward(inputs).numpy()

    layers = {layer.name for layer in model.layers} if by_layer else None
    return [
        profile(f"{name} training (batch {batch})", training_step, steps, layers=layers),
        profile(f"{name} inference (batch {inference_batch})", inference_step, steps, layers=layers),
    ]


def render(profiles: list[OpProfile], top: int = 8) -> str:
    lines = []
    for p in profiles:
        by_type = p.grouped_by == "op type"
        lines += [
            f"## {p.stage}: {p.busy_ms:.1f} ms busy per step, kernels {p.kernel_share * 100:.0f} %",
            "",
            f"| {p.grouped_by} | ms per step | share of busy time |" + (" kernel |" if by_type else ""),
            "|---|---:|---:|" + ("---|" if by_type else ""),
        ]
        for op in p.ops[:top]:
            kernel = f" {'yes' if is_kernel(op.op_type) else ''} |" if by_type else ""
            lines.append(f"| {op.op_type} | {op.ms:.2f} | {op.share * 100:.1f} % |{kernel}")
        rest = p.ops[top:]
        if rest:
            lines.append(
                f"| ({len(rest)} other {p.grouped_by}s) | {sum(o.ms for o in rest):.2f} | "
                f"{sum(o.share for o in rest) * 100:.1f} % |" + (" |" if by_type else "")
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["conv1d", "conv2d", "crnn"])
    parser.add_argument("--batch", type=int, default=32, help="training batch (the default run's)")
    parser.add_argument("--inference-batch", type=int, default=256, help="inference batch (evaluation's)")
    parser.add_argument("--steps", type=int, default=10, help="traced steps per stage")
    parser.add_argument("--top", type=int, default=8, help="op types listed per stage")
    parser.add_argument(
        "--by",
        choices=("type", "layer"),
        default="type",
        help="sum the self times per op type (default) or per Keras layer",
    )
    parser.add_argument("--json", type=Path, help="also write the profiles here")
    args = parser.parse_args(argv)
    profiles = [
        p
        for name in args.models
        for p in model_profiles(name, args.batch, args.inference_batch, args.steps, by_layer=args.by == "layer")
    ]
    print(render(profiles, args.top))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([dataclasses.asdict(p) for p in profiles], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
