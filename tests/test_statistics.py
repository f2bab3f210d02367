"""Speaker bootstrap and seed spread: whole speakers are resampled, intervals are percentiles of replicates."""

import numpy as np
import pytest

from keras_audio.statistics import SpeakerBootstrap, per_seed_values, percentile_interval, seed_spread


def _speakers(num_speakers: int, clips_each: int) -> np.ndarray:
    return np.repeat([f"spk{i:02d}" for i in range(num_speakers)], clips_each)


def test_resamples_hold_whole_speakers_only():
    speakers = np.array(["a", "a", "a", "b", "c", "c", "d", "d", "d", "d"])
    bootstrap = SpeakerBootstrap(speakers, num_resamples=50, seed=3)
    for resample in range(bootstrap.num_resamples):
        index = bootstrap.indices(resample)
        drawn = bootstrap.speaker_names[bootstrap.draws[resample]]
        assert len(drawn) == 4  # as many draws as there are speakers
        for speaker in np.unique(speakers):
            times = int(np.sum(drawn == speaker))
            # every clip of a drawn speaker, once per draw; no clip of a speaker not drawn
            assert np.sum(speakers[index] == speaker) == times * np.sum(speakers == speaker)
            members = np.flatnonzero(speakers == speaker)
            for clip in members:
                assert np.sum(index == clip) == times


def test_replicates_equal_accuracy_on_the_resampled_clips():
    rng = np.random.default_rng(0)
    speakers = np.repeat(["a", "b", "c", "d", "e"], [3, 7, 1, 4, 5])
    y_true = rng.integers(0, 3, len(speakers))
    y_pred = np.where(rng.random(len(speakers)) < 0.7, y_true, (y_true + 1) % 3)
    bootstrap = SpeakerBootstrap(speakers, num_resamples=200, seed=1)
    replicates = bootstrap.accuracy_replicates(y_true, y_pred)
    direct = [np.mean(y_true[bootstrap.indices(r)] == y_pred[bootstrap.indices(r)]) for r in range(200)]
    np.testing.assert_allclose(replicates, direct)


def test_interval_reflects_speaker_level_variance():
    # 10 speakers x 10 clips; every clip of speaker 0 is wrong, every other clip right: accuracy 0.9.
    speakers = _speakers(10, 10)
    y_true = np.zeros(100, int)
    y_pred = np.where(speakers == "spk00", 1, 0)
    by_speaker = SpeakerBootstrap(speakers, num_resamples=2000, seed=0)
    replicates = by_speaker.accuracy_replicates(y_true, y_pred)
    # a resample's accuracy is 1 - (times speaker 0 was drawn) / 10: whole speakers, never single clips
    np.testing.assert_allclose(replicates * 10, np.round(replicates * 10), atol=1e-9)
    low, high = by_speaker.accuracy_interval(y_true, y_pred)
    assert low <= 0.8 and high == 1.0
    # treating each clip as its own speaker pretends 100 independent samples: a much narrower interval
    by_clip = SpeakerBootstrap(np.arange(100), num_resamples=2000, seed=0)
    clip_low, clip_high = by_clip.accuracy_interval(y_true, y_pred)
    assert (high - low) > 1.5 * (clip_high - clip_low)
    assert low <= 0.9 <= high


def test_draws_are_seeded():
    speakers = _speakers(6, 2)
    first = SpeakerBootstrap(speakers, num_resamples=20, seed=5).draws
    np.testing.assert_array_equal(first, SpeakerBootstrap(speakers, num_resamples=20, seed=5).draws)
    assert not np.array_equal(first, SpeakerBootstrap(speakers, num_resamples=20, seed=6).draws)


def test_perfect_predictions_give_a_degenerate_interval():
    speakers = _speakers(4, 3)
    labels = np.arange(12) % 2
    assert SpeakerBootstrap(speakers, seed=0).accuracy_interval(labels, labels) == (1.0, 1.0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="speakers"):
        SpeakerBootstrap([])
    with pytest.raises(ValueError, match="num_resamples"):
        SpeakerBootstrap(["a"], num_resamples=0)
    with pytest.raises(ValueError, match="expected 3"):
        SpeakerBootstrap(["a", "a", "b"]).accuracy_replicates(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="confidence"):
        percentile_interval(np.ones(5), confidence=1.5)


def test_percentile_interval():
    replicates = np.arange(1001) / 1000
    low, high = percentile_interval(replicates, 0.95)
    assert low == pytest.approx(0.025) and high == pytest.approx(0.975)


def test_per_seed_values_average_within_each_seed():
    rows = [
        {"model": "m", "seed": 0, "severity": 1, "accuracy": 0.8},
        {"model": "m", "seed": 0, "severity": 2, "accuracy": 0.6},
        {"model": "m", "seed": 1, "severity": 1, "accuracy": 0.9},
        {"model": "m", "seed": 1, "severity": 2, "accuracy": 0.7},
        {"model": "n", "seed": 0, "severity": 1, "accuracy": 0.5},
    ]
    values = per_seed_values(rows, ("model",))
    assert values == {("m",): pytest.approx([0.7, 0.8]), ("n",): [0.5]}
    assert seed_spread(values[("m",)]) == pytest.approx(np.std([0.7, 0.8], ddof=1))
    assert seed_spread(values[("n",)]) is None
