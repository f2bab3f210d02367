"""Training policies: parsing, probability, fixed length, determinism inside tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from keras_audio.corruptions.policy import fit_length, parse_policy


@pytest.mark.parametrize("name, waveform, spec_augment", [
    ("none", False, False), ("noise", True, False), ("SpecAugment", False, True), ("suite", True, False),
    ("noise+specaugment", True, True), ("suite + SpecAugment", True, True), ("none+specaugment", False, True),
])
def test_parts_combine(name, waveform, spec_augment, suite):
    policy = parse_policy(name, suite)
    assert (policy.waveform is not None) == waveform and policy.spec_augment == spec_augment


@pytest.mark.parametrize("name, message", [
    ("fog", "unknown policy part"), ("noise+suite", "two waveform parts"), ("", "unknown policy part"),
])
def test_bad_names_are_errors(name, message, suite):
    with pytest.raises(ValueError, match=message):
        parse_policy(name, suite)


def test_noise_needs_white_noise_and_suite_needs_corruptions(suite):
    with pytest.raises(ValueError, match="white_noise"):
        parse_policy("noise", {"gain": suite["gain"]})
    with pytest.raises(ValueError, match="at least one corruption"):
        parse_policy("suite", {})
    with pytest.raises(ValueError, match="probability"):
        parse_policy("suite", suite, probability=1.5)


def test_probability_zero_is_clean_and_one_always_corrupts(suite, helpers):
    clean = tf.constant(helpers.harmonic_tone(150, 0.25))
    never = parse_policy("noise", suite, probability=0.0).waveform
    always = parse_policy("noise", suite, probability=1.0).waveform
    for s in range(8):
        np.testing.assert_array_equal(never(clean, helpers.seed(s)).numpy(), clean.numpy())
        assert not np.array_equal(always(clean, helpers.seed(s)).numpy(), clean.numpy())


def test_suite_policy_keeps_length_and_is_deterministic_in_a_parallel_map(suite, helpers):
    # A few corruptions, both length-changing ones among them: tracing all 18 branches takes ~10 s.
    names = ("white_noise", "speed", "time_stretch", "packet_loss")
    policy = parse_policy("suite", {n: suite[n] for n in names}, probability=1.0).waveform
    clean = tf.constant(helpers.harmonic_tone(150, 0.25))
    dataset = tf.data.Dataset.range(48).map(lambda i: policy(clean, tf.stack([i, tf.constant(9, tf.int64)])),
                                            num_parallel_calls=tf.data.AUTOTUNE)
    first = np.stack(list(dataset.as_numpy_iterator()))
    second = np.stack(list(dataset.as_numpy_iterator()))
    assert first.shape == (48, clean.shape[0])  # speed and time stretch are fitted back
    np.testing.assert_array_equal(first, second)
    distinct = {row.tobytes() for row in first}
    assert len(distinct) > 24  # different seeds: different corruptions, severities, draws (speed and time
    # stretch have only two outcomes per severity, so not all 48 differ)


def test_fit_length_crops_or_pads_at_the_end():
    x = tf.range(5, dtype=tf.float32)
    np.testing.assert_array_equal(fit_length(x, 3).numpy(), [0, 1, 2])
    np.testing.assert_array_equal(fit_length(x, 7).numpy(), [0, 1, 2, 3, 4, 0, 0])
