"""Training policies: parsing, probability, fixed length, determinism inside tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from keras_audio.corruptions.policy import parse_policy
from keras_audio.corruptions.signal_ops import fit_length


@pytest.mark.parametrize(
    "name, waveform, spec_augment",
    [
        ("none", False, False),
        ("noise", True, False),
        ("SpecAugment", False, True),
        ("suite", True, False),
        ("noise+specaugment", True, True),
        ("suite + SpecAugment", True, True),
        ("none+specaugment", False, True),
    ],
)
def test_parts_combine(name, waveform, spec_augment, suite):
    policy = parse_policy(name, suite)
    assert (policy.waveform is not None) == waveform and policy.spec_augment == spec_augment


@pytest.mark.parametrize(
    "name, message",
    [
        ("fog", "unknown policy part"),
        ("noise+suite", "two waveform parts"),
        ("", "unknown policy part"),
    ],
)
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


@pytest.mark.slow
def test_suite_policy_is_deterministic_in_a_parallel_map(suite, helpers):
    # A few corruptions, both length-changing ones among them: tracing all 18 branches takes ~10 s.
    names = ("white_noise", "speed", "time_stretch", "packet_loss")
    policy = parse_policy("suite", {n: suite[n] for n in names}, probability=1.0).waveform
    clean = tf.constant(helpers.harmonic_tone(150, 0.25))
    dataset = tf.data.Dataset.range(48).map(
        lambda i: policy(clean, tf.stack([i, tf.constant(9, tf.int64)])), num_parallel_calls=tf.data.AUTOTUNE
    )
    first = list(dataset.as_numpy_iterator())
    second = list(dataset.as_numpy_iterator())
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    # Speed and time stretch return the recording at its new length (the training stream crops or pads it).
    assert {len(row) for row in first} > {clean.shape[0]}
    distinct = {row.tobytes() for row in first}
    assert len(distinct) > 24  # different seeds: different corruptions, severities, draws (speed and time
    # stretch have only two outcomes per severity, so not all 48 differ)


def test_fit_length_crops_or_pads_at_the_end():
    x = tf.range(5, dtype=tf.float32)
    np.testing.assert_array_equal(fit_length(x, 3).numpy(), [0, 1, 2])
    np.testing.assert_array_equal(fit_length(x, 7).numpy(), [0, 1, 2, 3, 4, 0, 0])


# ------------------------------------------------------------------------------ held-out families
from keras_audio.corruptions.policy import (  # noqa: E402
    expand_policies,
    held_out_family,
    policy_parts,
    trained_on_policy,
)


def test_suite_minus_a_family_never_draws_from_it(suite, helpers):
    # {white_noise, gain}: without the noise family only gain is left, so every output is the clean clip scaled.
    small = {"white_noise": suite["white_noise"], "gain": suite["gain"]}
    clean = helpers.harmonic_tone(150, 0.25)
    minus_noise = parse_policy("suite-minus:noise", small, probability=1.0)
    minus_level = parse_policy("Suite-Minus:Level+SpecAugment", small, probability=1.0)
    assert minus_noise.held_out == "noise" and minus_noise.waveform_part == "suite-minus:noise"
    assert minus_level.held_out == "level" and minus_level.spec_augment
    for s in range(6):
        scaled = minus_noise.waveform(tf.constant(clean), helpers.seed(s)).numpy()
        ratio = scaled[np.argmax(np.abs(clean))] / clean[np.argmax(np.abs(clean))]
        assert abs(ratio - 1) > 0.05  # gain at severity >= 1 moves the level by >= 3 dB
        np.testing.assert_allclose(scaled, ratio * clean, atol=1e-5)
        noisy = minus_level.waveform(tf.constant(clean), helpers.seed(s)).numpy()
        fitted = np.dot(noisy, clean) / np.dot(clean, clean) * clean
        assert np.std(noisy - fitted) > 1e-4  # white noise added, not a scaled copy (SNR 30 dB at most)


@pytest.mark.parametrize(
    "name, message",
    [
        (
            "suite-minus:fog",
            r"unknown corruption family 'fog' in policy 'suite-minus:fog'; families: noise, band, "
            r"pitch_tempo, room, codec, gaps, level",
        ),
        ("suite-minus:", "unknown corruption family ''"),
        ("suite-minus:noise+suite", "two waveform parts"),
        ("heldout+noise", "two waveform parts"),
    ],
)
def test_bad_held_out_names_are_errors(name, message, suite):
    with pytest.raises(ValueError, match=message):
        parse_policy(name, suite)


def test_holding_out_a_family_the_suite_lacks_or_the_whole_suite_is_refused(suite):
    small = {"white_noise": suite["white_noise"], "speed": suite["speed"]}
    with pytest.raises(ValueError, match=r"holds out family 'room' \(reverb, ir_reverb\), but the suite has none"):
        parse_policy("suite-minus:room", small)
    with pytest.raises(ValueError, match="nothing but family 'noise'"):
        parse_policy("suite-minus:noise", {"white_noise": suite["white_noise"], "pink_noise": suite["pink_noise"]})
    with pytest.raises(ValueError, match="expand it with expand_policies"):
        parse_policy("heldout", small)


def test_heldout_expands_into_suite_and_one_policy_per_family_of_the_suite(suite):
    small = {n: suite[n] for n in ("speed", "white_noise", "lowpass", "pink_noise")}
    assert expand_policies(["none", "heldout"], small) == [
        "none",
        "suite",
        "suite-minus:noise",
        "suite-minus:band",
        "suite-minus:pitch_tempo",
    ]
    assert expand_policies(["suite", "HeldOut+specaugment", "heldout"], small) == [
        "suite",
        "suite+specaugment",
        "suite-minus:noise+specaugment",
        "suite-minus:band+specaugment",
        "suite-minus:pitch_tempo+specaugment",
        "suite-minus:noise",
        "suite-minus:band",
        "suite-minus:pitch_tempo",
    ]
    assert expand_policies(["none", "suite-minus:band"], small) == ["none", "suite-minus:band"]
    with pytest.raises(ValueError, match="at least two families"):
        expand_policies(["heldout"], {"white_noise": suite["white_noise"], "pink_noise": suite["pink_noise"]})
    with pytest.raises(ValueError, match="holds out family 'room'"):
        expand_policies(["none", "suite-minus:room"], small)  # checked before anything trains


def test_held_out_family_and_its_trained_on_policy():
    assert policy_parts("heldout+specaugment") == ("heldout", True)
    assert held_out_family("suite-minus:pitch_tempo") == "pitch_tempo" and held_out_family("suite") is None
    assert trained_on_policy("suite-minus:band") == "suite"
    assert trained_on_policy("SpecAugment+suite-minus:band") == "suite+specaugment"
    with pytest.raises(ValueError, match="holds no family out"):
        trained_on_policy("suite")
