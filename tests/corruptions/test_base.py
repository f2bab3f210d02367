"""What every corruption must do: depend only on (waveform, seed, severity), also in a parallel tf.data map
with any batch size; differ between seeds where it draws anything; stay finite on awkward input."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_audio.corruptions import registry
from keras_audio.corruptions.seeds import clip_seed
from keras_audio.corruptions.signal_ops import fit_length, mix_at_snr, rescale_to_rms

# Corruptions with nothing random: the same output for every seed, by design.
DETERMINISTIC = {"clipping", "bit_depth", "mu_law", "lowpass", "telephone", "mp3"}
# Corruptions whose only draws are a direction or a choice among few items: at least two outputs.
FEW_OUTCOMES = {"gain", "speed", "time_stretch", "pitch_shift", "time_shift", "ir_reverb"}


def clips(count, samples, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    return np.stack(
        [
            (0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) + 0.02 * rng.standard_normal(samples))
            for _ in range(count)
        ]
    ).astype(np.float32)


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.slow
def test_same_seed_same_output_in_parallel_map_with_batch_1_and_32(name, suite):
    corruption = suite[name]
    waveforms = clips(32, 4000)
    ids = tf.constant([f"clip{k}" for k in range(32)])

    def spoil(index):
        clip_hash = tf.strings.to_hash_bucket_fast(ids[index], 2**62)
        out = corruption(tf.gather(waveforms, index), clip_seed(7, clip_hash, name, 3), 3)
        return index, fit_length(out, 4000)

    options = tf.data.Options()
    options.deterministic = False  # order may change; each element must not
    mapped = tf.data.Dataset.range(32).map(spoil, num_parallel_calls=tf.data.AUTOTUNE).with_options(options)
    results = []
    for batch_size in (1, 32):
        by_index = {}
        for index, out in mapped.batch(batch_size).as_numpy_iterator():
            by_index.update(zip(index.tolist(), out))
        results.append(np.stack([by_index[k] for k in range(32)]))
    np.testing.assert_array_equal(results[0], results[1])
    eager = np.stack([spoil(tf.constant(k, tf.int64))[1].numpy() for k in (0, 31)])
    np.testing.assert_allclose(eager, results[0][[0, 31]], atol=1e-5)


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.slow
def test_different_seeds_different_output_where_anything_is_drawn(name, suite, graph_call):
    call = graph_call(suite[name])
    clean = clips(1, 8000)[0]  # longer than severity 4's time shift
    outputs = {fit_length(tf.constant(call(clean, [s, 1], 4)), 8000).numpy().tobytes() for s in range(16)}
    if name in DETERMINISTIC:
        assert len(outputs) == 1
    elif name in FEW_OUTCOMES:
        assert len(outputs) >= 2
    else:
        assert len(outputs) == 16


INPUTS = {
    "silence": lambda n: np.zeros(n, np.float32),
    "dc": lambda n: np.full(n, 0.3, np.float32),
    "full_scale": lambda n: np.where(np.arange(n) % 7 < 3, 1.0, -1.0).astype(np.float32),
    "impulse": lambda n: np.eye(1, n, 0, dtype=np.float32)[0],
}


@pytest.mark.parametrize("name", registry.names())
def test_every_severity_is_finite_on_awkward_input(name, suite, graph_call):
    corruption = suite[name]
    call = graph_call(corruption)
    for severity in range(1, 6):
        for kind, make in INPUTS.items():
            for samples in (1, 37, 4000):
                out = call(make(samples), [severity, samples], severity)
                assert np.all(np.isfinite(out)), (severity, kind, samples)
                assert out.size == samples or corruption.changes_length
                assert kind != "silence" or np.all(out == 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(registry.names()),
    severity=st.integers(1, 5),
    kind=st.sampled_from(sorted(INPUTS)),
    samples=st.one_of(st.integers(1, 64), st.integers(65, 6000)),
    seed=st.integers(0, 2**31 - 1),
)
def test_output_is_finite_for_awkward_input(name, severity, kind, samples, seed, suite, graph_call):
    corruption = suite[name]
    out = graph_call(corruption)(INPUTS[kind](samples), [seed, 0], severity)
    assert np.all(np.isfinite(out))
    assert out.size >= 1
    if not corruption.changes_length:
        assert out.size == samples
    if kind == "silence":
        assert np.all(out == 0), "silence in, silence out: nothing is added to an empty clip"


def test_mix_at_snr_and_rescale_to_rms_are_exact(helpers):
    rng = np.random.default_rng(0)
    signal, noise = rng.standard_normal(1000).astype(np.float32), rng.uniform(-1, 1, 1000).astype(np.float32)
    mixed = mix_at_snr(signal, noise, 7.0).numpy()
    assert helpers.rms_db(signal) - helpers.rms_db(mixed - signal) == pytest.approx(7.0, abs=1e-3)
    rescaled = rescale_to_rms(noise, signal).numpy()
    assert helpers.rms_db(rescaled) == pytest.approx(helpers.rms_db(signal), abs=1e-4)


def test_severity_params_accept_a_tensor_severity(suite):
    corruption = suite["white_noise"]
    assert float(corruption.severity_params(tf.constant(2))["snr_db"]) == 20.0


def test_a_batch_is_refused_not_read_as_one_sample_long(suite):
    clip = np.zeros([1, 16000], np.float32)
    with pytest.raises(ValueError, match=r"white_noise: expects one clip of shape \[samples\], got shape \(1, 16000\)"):
        suite["white_noise"](clip, tf.constant([1, 2]), 3)


def test_constructor_rejects_a_bad_rate():
    with pytest.raises(ValueError, match="sample_rate must be positive, got 0"):
        registry.build("gain", 0)
