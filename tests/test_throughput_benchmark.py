"""benchmarks/throughput.py: FLOP counts checked against hand counts on tiny models, the matmul timer's form.

No timing is asserted: only that the rates are positive and as many as asked for.
"""

import math

import keras
import pytest

from tests.benchmark_modules import load_benchmark

throughput = load_benchmark("throughput")


def _dense_model(samples_in=None, units=3):
    waveform = keras.Input(shape=(samples_in,), dtype="float32", name="waveform")
    return keras.Model(waveform, keras.layers.Dense(units, name="dense")(waveform))


def test_a_dense_layer_costs_two_flops_per_multiply_add_plus_its_bias():
    counts = throughput.flop_counts(_dense_model(16, units=3), 16)
    assert counts.profiler == counts.forward == 2 * 16 * 3 + 3
    assert counts.features == counts.fft == counts.recurrent == 0
    assert counts.training == counts.training_plain == 3 * counts.forward  # no feature layer: all of it trains
    assert throughput.model_flops(_dense_model(16), 16) == counts.forward
    assert throughput.model_flops(_dense_model(16), 16, training=True) == counts.training


def test_the_log_mel_layer_adds_its_ffts_and_trains_once():
    from keras_audio.features import LogMelSpectrogram

    samples, n_fft, hop = 1600, 512, 160
    waveform = keras.Input(shape=(samples,), dtype="float32", name="waveform")
    features = LogMelSpectrogram(sample_rate=16000, n_fft=n_fft, hop_length=hop, n_mels=8, name="log_mel")(waveform)
    model = keras.Model(waveform, keras.layers.Dense(2, name="dense")(keras.layers.Flatten()(features)))
    counts = throughput.flop_counts(model, samples)
    frames = 1 + samples // hop
    assert counts.fft == frames * 2.5 * n_fft * math.log2(n_fft)  # the profiler has no RFFT rule
    assert counts.features == throughput.features_flops(throughput.feature_layer(model), samples)
    assert counts.features > counts.fft + 2 * frames * (n_fft // 2 + 1) * 8  # + power and the mel product
    assert counts.forward == counts.profiler + counts.fft
    dense = 2 * frames * 8 * 2 + 2
    assert counts.forward - counts.features == pytest.approx(dense, abs=16)  # + the flatten's nothing, a few adds
    assert counts.training == counts.features + 3 * (counts.forward - counts.features) < counts.training_plain


def test_a_gru_is_counted_per_time_step_not_once():
    steps, inputs, units = 7, 5, 4
    waveform = keras.Input(shape=(None,), dtype="float32", name="waveform")
    sequence = keras.layers.Reshape((-1, inputs))(waveform)
    model = keras.Model(waveform, keras.layers.GRU(units, name="gru")(sequence))
    counts = throughput.flop_counts(model, steps * inputs)
    assert counts.recurrent == steps * (2 * 3 * units * (inputs + units) + 6 * 3 * units)
    assert counts.forward >= counts.recurrent
    assert counts.profiler < counts.recurrent  # the profiler sees the loop body at most once


def test_model_flops_refuses_a_bad_clip_length():
    with pytest.raises(ValueError, match="clip_samples.*0"):
        throughput.model_flops(_dense_model(16), 0)
    with pytest.raises(ValueError, match="clip_samples.*True"):
        throughput.flop_counts(_dense_model(16), True)


def test_matmul_rates_gives_one_positive_rate_per_timing():
    wall, cpu = throughput.matmul_rates(size=64, seconds=0.05, repeats=3, warmup=1)
    assert len(wall) == len(cpu) == 3 and min(wall) > 0
    assert throughput.matmul_gflops(size=64, seconds=0.05, repeats=1, warmup=0) > 0
    with pytest.raises(ValueError, match="size=0"):
        throughput.matmul_rates(size=0)
    with pytest.raises(ValueError, match="seconds=0"):
        throughput.matmul_rates(size=8, seconds=0)


@pytest.mark.slow
def test_the_real_models_cost_what_the_issue_measured():
    """Issue 15's profiler figures for a 2-s clip at 16 kHz: 0.028 (conv1d), 0.087 (conv2d), 0.072 (crnn)
    GFLOP; the full forward adds the FFTs (and the GRU's steps)."""
    from keras_audio.config import FeatureConfig
    from keras_audio.models import build_model

    expected = {"conv1d": 0.028, "conv2d": 0.087, "crnn": 0.072}
    for name, gflop in expected.items():
        counts = throughput.flop_counts(build_model(name, 10, 16000, FeatureConfig()), 32000)
        assert counts.profiler / 1e9 == pytest.approx(gflop, rel=0.02), name
        assert counts.forward > counts.profiler - 1e6 and counts.fft > 0
        assert (counts.recurrent > 0) == (name == "crnn")
