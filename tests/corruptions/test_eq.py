"""Random EQ: the tilt moves energy between bands by the stated dB/octave, bands boost where drawn, the
EQ keeps the RMS and the gain part is exact, every draw comes from the seed."""

import numpy as np
import pytest
import tensorflow as tf

from keras_audio.corruptions import registry
from keras_audio.corruptions.eq import RandomEQ, eq_response_db

LOW_HZ, HIGH_HZ = 250.0, 4000.0  # four octaves apart, both inside the tilt's range


def two_tones(helpers, seconds=0.5):
    return helpers.sine(LOW_HZ, seconds, 0.2) + helpers.sine(HIGH_HZ, seconds, 0.2)


def tone_level_db(waveform, frequency, sample_rate=16000):
    """A tone's level in dB over the middle half of the clip (Hann window, its nearest bin)."""
    middle = waveform[waveform.size // 4 : 3 * waveform.size // 4].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size)))
    bins = np.fft.rfftfreq(middle.size, 1.0 / sample_rate)
    return 20 * np.log10(spectrum[np.argmin(np.abs(bins - frequency))])


def flat_params(eq, **changes):
    """Parameters of an EQ that does nothing, with `changes` applied."""
    params = {
        "tilt_db_per_octave": 0.0,
        "shelf_hz": 1000.0,
        "shelf_db": 0.0,
        "shelf_high": True,
        "peak_hz": [500.0, 2000.0],
        "peak_db": [0.0, 0.0],
        "gain_db": 0.0,
    }
    params.update(changes)
    return {key: tf.constant(value, tf.bool if key == "shelf_high" else tf.float32) for key, value in params.items()}


def balance_change_db(eq, clean, params):
    """How much the high tone gained on the low one, in dB."""
    out = eq.apply(tf.constant(clean), params).numpy()
    return (tone_level_db(out, HIGH_HZ) - tone_level_db(out, LOW_HZ)) - (
        tone_level_db(clean, HIGH_HZ) - tone_level_db(clean, LOW_HZ)
    )


@pytest.mark.parametrize("tilt", [-4.0, -1.0, 0.5, 3.0])
def test_tilt_moves_energy_toward_the_stated_band_by_its_db_per_octave(tilt, helpers):
    eq = RandomEQ(helpers.SAMPLE_RATE)
    change = balance_change_db(eq, two_tones(helpers), flat_params(eq, tilt_db_per_octave=tilt))
    assert change == pytest.approx(4 * tilt, abs=0.2)  # 4 octaves between the tones


def test_a_peaking_band_boosts_its_centre_and_leaves_far_bands(helpers):
    eq = RandomEQ(helpers.SAMPLE_RATE)
    clean = two_tones(helpers)
    change = balance_change_db(eq, clean, flat_params(eq, peak_hz=[HIGH_HZ, 300.0], peak_db=[9.0, 0.0]))
    assert change == pytest.approx(9.0, abs=0.3)
    cut = balance_change_db(eq, clean, flat_params(eq, peak_hz=[LOW_HZ, 300.0], peak_db=[6.0, 0.0]))
    assert cut == pytest.approx(-6.0, abs=0.3)


def test_a_high_shelf_raises_what_lies_above_its_corner_and_a_low_shelf_what_lies_below(helpers):
    eq = RandomEQ(helpers.SAMPLE_RATE)
    clean = two_tones(helpers)
    assert balance_change_db(eq, clean, flat_params(eq, shelf_hz=1000.0, shelf_db=8.0)) == pytest.approx(8.0, abs=0.3)
    low = flat_params(eq, shelf_hz=1000.0, shelf_db=8.0, shelf_high=False)
    assert balance_change_db(eq, clean, low) == pytest.approx(-8.0, abs=0.3)


def test_the_response_is_zero_at_the_pivot_and_flat_below_the_floor():
    decibels = eq_response_db(
        tf.constant([20.0, 50.0, 100.0, 1000.0, 8000.0]),
        3.0,
        1000.0,
        0.0,
        True,
        tf.constant([500.0]),
        tf.constant([0.0]),
        8000.0,
    ).numpy()
    np.testing.assert_allclose(decibels, [3 * np.log2(0.1)] * 3 + [0.0, 9.0], atol=1e-4)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_eq_keeps_the_rms_and_the_gain_part_is_exact(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(140, 0.5)
    target = RandomEQ.severities["gain_db"][severity - 1]
    signs = set()
    for s in range(8):
        out = graph_call(suite["eq"])(clean, helpers.seed(s, severity), severity)
        change = helpers.rms_db(out) - helpers.rms_db(clean)
        assert abs(change) == pytest.approx(target, abs=1e-3)
        signs.add(np.sign(change))
    assert signs == {-1.0, 1.0}


def test_same_seed_same_shape_at_every_severity_and_seeds_differ(suite, helpers):
    eq = suite["eq"]
    drawn = [eq.sample(helpers.seed(4), s) for s in (1, 5)]
    for key in ("shelf_hz", "shelf_high", "peak_hz"):  # where the bands sit does not depend on the severity
        np.testing.assert_array_equal(drawn[0][key].numpy(), drawn[1][key].numpy())
    for key in ("tilt_db_per_octave", "peak_db", "gain_db"):
        np.testing.assert_array_equal(np.sign(drawn[0][key].numpy()), np.sign(drawn[1][key].numpy()))
    clean = helpers.harmonic_tone(140, 0.25)
    first, again = (eq(clean, helpers.seed(4), 3).numpy() for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert first.shape == clean.shape and first.dtype == np.float32
    assert not np.allclose(first, eq(clean, helpers.seed(5), 3).numpy())


def test_eq_is_registered_and_runs_at_8_khz():
    assert "eq" in registry.names()
    eq = registry.build("eq", 8000)
    assert eq.band_high_hz == pytest.approx(3200.0)  # bands stay below 0.8 x Nyquist
    out = eq(np.ones(801, np.float32), tf.constant([1, 2], tf.int64), 5).numpy()
    assert out.shape == (801,) and np.all(np.isfinite(out))


def test_a_batch_is_row_for_row_the_clip_by_clip_eq(suite, helpers):
    clips = np.stack([helpers.harmonic_tone(f, 0.1) for f in (120.0, 210.0)])
    seeds = np.array([[3, 1], [4, 1]], np.int64)
    batch = suite["eq"].corrupt_batch(clips, seeds, 2).numpy()
    for row, clip, seed_ in zip(batch, clips, seeds):
        np.testing.assert_allclose(row, suite["eq"](clip, seed_, 2).numpy(), atol=1e-6)
