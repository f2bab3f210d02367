"""What the machine can do, and what a model asks of it: matrix-product throughput and model FLOPs.

    from throughput import flop_counts, matmul_gflops, model_flops
    peak = matmul_gflops()                                   # sustained GFLOP/s of a 2048 x 2048 tf.linalg.matmul
    forward = model_flops(model, 32000)                      # forward FLOPs per example (profiler + what it misses)
    training = model_flops(model, 32000, training=True)      # one training step per example
    fraction = training * examples_per_second / (peak * 1e9)
    counts = flop_counts(model, 32000)                       # every count: profiler's raw, FFT, recurrent, features

`benchmarks/speed.py` reports every stage as a fraction of `matmul_gflops`: a stage at 50 % does half the
arithmetic per second that the machine's best-case kernel does, whatever the machine.

How the FLOPs are counted (`flop_counts`):

- TensorFlow's profiler (`tf.compat.v1.profiler.profile` with `ProfileOptionBuilder.float_operation()`) on the
  frozen graph of the model's concrete function for one example `[1, clip_samples]`, in inference mode. Its
  rules count a multiply-add as 2 FLOPs (Conv2D, MatMul, BatchMatMul) and one per element for elementwise ops
  and reductions.
- It has no rule for `RFFT`: the STFT's FFTs are added here at the usual `2.5 · n · log2 n` per real
  transform of length n (half a complex FFT's `5 n log2 n`).
- It counts the body of a `while` loop (the steps of a GRU or LSTM) once, and misses its ops whose shapes
  the loop leaves unknown: loop bodies are left out of its count (`hide_name_regexes`) and each Keras
  recurrent layer (nested models' too) is added analytically, per time step `2 · gates · units · (inputs +
  units)` (the input and recurrent matrix products) plus `6 · gates · units` for biases and gate arithmetic,
  times the sequences it runs on per example (GE2E's LSTMs: one per partial utterance).
- Training is counted as the features once (no gradient flows into the log-mel front-end: it has no
  weights) plus 3 × the rest (the backward pass costs about twice the forward: the gradient with respect to
  the activations and the one with respect to the weights, each about one forward's products). The plain
  rule "3 × forward" is `ModelFlops.training_plain`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import statistics
import time

import numpy as np

FFT_FLOPS_PER_POINT_LOG2 = 2.5  # real FFT of n points: 2.5 n log2 n
LOOP_SCOPE = r".*/while/.*"  # ops inside a while loop's body (recurrent layers)


@dataclasses.dataclass(frozen=True)
class ModelFlops:
    """FLOPs per example of one model on one clip length.

    Attributes:
        profiler: what `tf.compat.v1.profiler.profile` counts on the whole frozen forward graph (loops
            included once, FFTs not at all): the figure issue 15 quotes.
        forward: the full forward pass: the profiler's count outside loops, plus the FFTs, plus the
            recurrent layers' steps.
        features: the log-mel front-end's part of `forward` (the `LogMelSpectrogram` layer alone).
        fft: the FFTs' FLOPs added (part of `features`).
        recurrent: the recurrent layers' FLOPs added.
    """

    profiler: float
    forward: float
    features: float
    fft: float = 0.0
    recurrent: float = 0.0

    @property
    def training(self) -> float:
        """One training step per example: features once, the rest forward and backward (3 × forward)."""
        return self.features + 3.0 * (self.forward - self.features)

    @property
    def training_plain(self) -> float:
        """The rule of thumb, 3 × the whole forward pass (overstates: no gradient reaches the features)."""
        return 3.0 * self.forward


# ---------------------------------------------------------------------------------------------- matmul
def matmul_gflops(size: int = 2048, seconds: float = 3.0, repeats: int = 5, warmup: int = 2) -> float:
    """Sustained `tf.linalg.matmul` throughput in GFLOP/s: the median of `matmul_rates`."""
    return statistics.median(matmul_rates(size, seconds, repeats, warmup)[0])


def matmul_rates(
    size: int = 2048, seconds: float = 3.0, repeats: int = 5, warmup: int = 2
) -> tuple[list[float], list[float]]:
    """`tf.linalg.matmul` of two `size` × `size` float32 matrices (2·size³ FLOPs a product), timed `repeats`
    times: (GFLOP per wall-clock second, GFLOP per second of this process's CPU time), one per timing.

    Each timing runs as many products as fit in `seconds / repeats` (one at least), after `warmup` untimed
    products. The inputs stay on the device and the result is fetched once per timing, so dispatch costs
    nothing at this size.

    Raises:
        ValueError: a size or count below 1 (warmup below 0), or seconds not positive.
    """
    import tensorflow as tf

    if size < 1 or repeats < 1 or warmup < 0 or not seconds > 0:
        raise ValueError(
            f"matmul_rates: size and repeats must be >= 1, warmup >= 0, seconds > 0; got size={size}, "
            f"repeats={repeats}, warmup={warmup}, seconds={seconds}"
        )
    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((size, size), np.float32))
    b = tf.constant(rng.standard_normal((size, size), np.float32))
    product = tf.function(tf.linalg.matmul)
    for _ in range(warmup):
        product(a, b).numpy()
    started = time.perf_counter()
    product(a, b).numpy()
    calls = max(1, int(seconds / repeats / max(time.perf_counter() - started, 1e-6)))
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            out = product(a, b)
        out.numpy()
        flops = calls * 2.0 * size**3 / 1e9
        wall.append(flops / (time.perf_counter() - started))
        cpu_seconds = time.process_time() - started_cpu
        cpu.append(flops / cpu_seconds if cpu_seconds > 0 else float("nan"))
    return wall, cpu


# ----------------------------------------------------------------------------------------------- FLOPs
def frozen_graph(function, clip_samples: int):
    """The graph of `function(x, training=False)` on one example `[1, clip_samples]` float32, its variables
    frozen into constants (the profiler then sees every shape)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    traced = tf.function(lambda x: function(x, training=False))
    concrete = traced.get_concrete_function(tf.TensorSpec([1, clip_samples], tf.float32))
    return convert_variables_to_constants_v2(concrete).graph


def profiler_flops(graph, hide_loops: bool = False) -> float:
    """The FLOPs TensorFlow's profiler counts in `graph` (`ProfileOptionBuilder.float_operation()`).

    Args:
        hide_loops: leave ops inside `while` bodies out (`LOOP_SCOPE`).
    """
    import tensorflow as tf

    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    if hide_loops:
        options["hide_name_regexes"] = [LOOP_SCOPE]
    with contextlib.redirect_stderr(io.StringIO()):  # "N ops no flops stats due to incomplete shapes" (loops)
        return float(tf.compat.v1.profiler.profile(graph=graph, cmd="scope", options=options).total_float_ops)


def fft_flops(graph) -> float:
    """`2.5 · n · log2 n` per real FFT of length n in `graph` (the profiler has no rule for them)."""
    total = 0.0
    for op in graph.get_operations():
        if op.type in ("RFFT", "IRFFT"):
            shape = op.inputs[0].shape if op.type == "RFFT" else op.outputs[0].shape
            if not shape.is_fully_defined():
                raise ValueError(f"fft_flops: {op.name} has an unknown shape {shape}")
            n = int(shape[-1])
            total += int(np.prod(shape[:-1])) * FFT_FLOPS_PER_POINT_LOG2 * n * math.log2(n)
    return total


RECURRENT_GATES = {"GRU": 3, "LSTM": 4, "SimpleRNN": 1}


def recurrent_inputs(model, inputs) -> list[tuple[object, tuple]]:
    """`(layer, input shape)` of every Keras GRU / LSTM / SimpleRNN layer of the functional `model` (nested
    functional models searched too) when `model` runs on `inputs` in inference mode."""
    import keras

    def recurrent(layer) -> bool:
        return type(layer).__name__ in RECURRENT_GATES

    direct = [layer for layer in model.layers if recurrent(layer)]
    nested = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model)
        and any(recurrent(inner) for inner in layer._flatten_layers(include_self=False))
    ]
    if not direct and not nested:
        return []
    # A nested model's `input` is its own Input; the Operation's is where `model` calls it.
    tensors = [layer.input for layer in direct] + [keras.Operation.input.fget(layer) for layer in nested]
    values = keras.Model(model.input, tensors)(inputs, training=False)
    values = values if isinstance(values, (list, tuple)) else [values]
    found = [(layer, tuple(value.shape)) for layer, value in zip(direct, values)]
    for layer, value in zip(nested, values[len(direct) :]):
        found += recurrent_inputs(layer, value)
    return found


def recurrent_flops(model, clip_samples: int) -> float:
    """FLOPs of `model`'s Keras GRU / LSTM / SimpleRNN layers on one example: every time step's matrix
    products, `2 · gates · units · (inputs + units)`, plus `6 · gates · units` of biases and gate arithmetic,
    for every sequence the layer runs on for that example (one, or e.g. one per GE2E partial utterance)."""
    total = 0.0
    for layer, (sequences, steps, inputs) in recurrent_inputs(model, np.zeros((1, clip_samples), np.float32)):
        g, units = RECURRENT_GATES[type(layer).__name__], layer.units
        total += sequences * steps * (2 * g * units * (inputs + units) + 6 * g * units)
    return float(total)


def feature_layer(model):
    """The model's `LogMelSpectrogram` layer (None when it has none)."""
    from keras_audio.features import LogMelSpectrogram

    return next(
        (layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, LogMelSpectrogram)), None
    )


def features_flops(layer, clip_samples: int) -> float:
    """The `LogMelSpectrogram` layer alone on one example: the profiler's count plus its FFTs."""
    graph = frozen_graph(lambda x, training=False: layer(x), clip_samples)  # a layer takes no `training`
    return profiler_flops(graph) + fft_flops(graph)


def flop_counts(model, clip_samples: int) -> ModelFlops:
    """Every FLOP count per example of a Keras model that takes `[batch, clip_samples]` waveforms.

    Args:
        model: a built Keras model (its weights do not matter).
        clip_samples: the clip length in samples (the count depends on it).

    Raises:
        ValueError: `clip_samples` is not a positive int.
    """
    if isinstance(clip_samples, bool) or not isinstance(clip_samples, (int, np.integer)) or clip_samples < 1:
        raise ValueError(f"model_flops: clip_samples must be a positive int, got {clip_samples!r}")
    clip_samples = int(clip_samples)
    graph = frozen_graph(model, clip_samples)
    profiler = profiler_flops(graph)
    outside_loops = profiler_flops(graph, hide_loops=True)
    fft = fft_flops(graph)
    recurrent = recurrent_flops(model, clip_samples)
    layer = feature_layer(model)
    features = 0.0 if layer is None else features_flops(layer, clip_samples)
    return ModelFlops(
        profiler=profiler, forward=outside_loops + fft + recurrent, features=features, fft=fft, recurrent=recurrent
    )


def model_flops(model, clip_samples: int, training: bool = False) -> float:
    """FLOPs per example: the forward pass, or with `training` one training step (`ModelFlops.training`)."""
    counts = flop_counts(model, clip_samples)
    return counts.training if training else counts.forward
