"""tf.data pipeline: crops, seeded training stream, spoiled evaluation sets that do not depend on batching."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from keras_audio.cache import WaveformStore
from keras_audio.corruptions import registry
from keras_audio.corruptions.policy import parse_policy
from keras_audio.corruptions.seeds import clip_seed, name_hash
from keras_audio.manifest import Manifest
from keras_audio.pipeline import (
    ClipSource,
    center_crop_or_pad,
    evaluation_dataset,
    random_crop_or_pad,
    training_dataset,
)

SR = 16000


def _store_and_manifest(n=12, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2000, 9000, size=n)
    waveforms = [(0.1 * rng.standard_normal(length)).astype(np.float32) for length in lengths]
    clip_ids = [f"clip{i:02d}" for i in range(n)]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    store = WaveformStore(np.concatenate(waveforms), offsets, lengths, clip_ids, SR)
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": ["a" if i % 2 else "b" for i in range(n)],
            "speaker": [f"s{i // 2}" for i in range(n)],
            "split": "test",
        }
    )
    return store, Manifest(frame, name="unit")


def _collect(dataset, batches=None):
    waveforms, labels = [], []
    for i, (w, y) in enumerate(dataset):
        if batches is not None and i >= batches:
            break
        waveforms.append(w.numpy())
        labels.append(y.numpy())
    return np.concatenate(waveforms), np.concatenate(labels)


def test_center_crop_and_pad():
    x = tf.range(10, dtype=tf.float32)
    np.testing.assert_array_equal(center_crop_or_pad(x, 4).numpy(), [3, 4, 5, 6])
    np.testing.assert_array_equal(center_crop_or_pad(x[:3], 6).numpy(), [0, 0, 1, 2, 0, 0])


def test_random_crop_is_a_window_of_the_clip_and_depends_on_the_seed():
    x = tf.range(100, dtype=tf.float32)
    crops = {tuple(random_crop_or_pad(x, 10, tf.constant([s, 0], tf.int64)).numpy()) for s in range(20)}
    assert len(crops) > 5
    for crop in crops:
        assert np.array_equal(np.diff(crop), np.ones(9))  # contiguous samples of the clip
    padded = random_crop_or_pad(x[:4], 10, tf.constant([1, 2], tf.int64)).numpy()
    assert padded.shape == (10,) and sorted(padded[padded != 0]) == [1, 2, 3]


def test_training_stream_is_reproducible_from_its_seed_and_differs_across_seeds():
    store, manifest = _store_and_manifest()
    source = ClipSource(store, manifest)
    noise = parse_policy("noise", registry.build_suite(["white_noise"], SR), probability=1.0)
    first = _collect(training_dataset(source, 4000, 4, seed=3, waveform_policy=noise.waveform), batches=6)
    again = _collect(training_dataset(source, 4000, 4, seed=3, waveform_policy=noise.waveform), batches=6)
    other = _collect(training_dataset(source, 4000, 4, seed=4, waveform_policy=noise.waveform), batches=6)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    assert first[0].shape == (24, 4000)


def test_training_pairs_are_spoiled_and_clean_views_of_the_same_crop():
    store, manifest = _store_and_manifest()
    source = ClipSource(store, manifest)
    noise = parse_policy("noise", registry.build_suite(["white_noise"], SR), probability=1.0)
    (corrupted, clean), _ = next(
        iter(training_dataset(source, 4000, 4, seed=0, waveform_policy=noise.waveform, pairs=True))
    )
    corrupted, clean = corrupted.numpy(), clean.numpy()
    assert not np.array_equal(corrupted, clean)
    for c, s in zip(clean, corrupted):  # the difference is noise well below the clip (SNR >= 0 dB)
        assert np.sqrt(np.mean((s - c) ** 2)) <= np.sqrt(np.mean(c**2)) * 1.001


def _padding(row: np.ndarray, length: int, window: int) -> np.ndarray:
    """The samples of a centre-padded `window`-sample row outside the clip of `length` samples."""
    before = (window - length) // 2
    return np.concatenate([row[:before], row[before + length :]])


@pytest.mark.parametrize(
    "name",
    ["white_noise", "pink_noise", "reverb", "bit_depth", "mu_law", "lowpass", "telephone", "packet_loss", "speed"],
)
@pytest.mark.slow
def test_a_short_clip_is_spoiled_at_its_own_length_then_padded(name):
    """Noise, reverberation or quantisation must not fill the zeros the pipeline appends: each test clip is
    the corruption of the recording alone, centre-padded after, on the batched and the per-clip path."""
    store, manifest = _store_and_manifest()
    window = 10000  # longer than every clip (2000-9000 samples)
    corruption = registry.build(name, SR)
    for batched in (True, False):
        spoiled = _collect(
            evaluation_dataset(ClipSource(store, manifest), window, 5, corruption, 4, seed=2, batched=batched)
        )[0]
        for i, clip_id in enumerate(manifest.clip_ids):
            recording = tf.constant(store.waveform(i))
            expected = center_crop_or_pad(corruption(recording, clip_seed(2, name_hash(clip_id), name, 4), 4), window)
            np.testing.assert_array_equal(spoiled[i], expected.numpy(), err_msg=f"{name}, clip {i}, batched {batched}")
            if not corruption.changes_length:
                assert not np.any(_padding(spoiled[i], len(recording), window)), f"{name}: clip {i}'s padding spoiled"


def test_the_training_policy_spoils_the_recording_not_the_padding():
    store, manifest = _store_and_manifest()
    noise = parse_policy("noise", registry.build_suite(["white_noise"], SR), probability=1.0)
    (corrupted, clean), _ = next(
        iter(
            training_dataset(ClipSource(store, manifest), 10000, 8, seed=0, waveform_policy=noise.waveform, pairs=True)
        )
    )
    for c, s in zip(clean.numpy(), corrupted.numpy()):
        inside = np.flatnonzero(c)
        first, last = inside[0], inside[-1]
        assert not np.any(s[:first]) and not np.any(s[last + 1 :])  # the padding stays silent
        assert np.any(s[first : last + 1] != c[first : last + 1])  # the recording is spoiled


@pytest.mark.parametrize("corruption", [None, "white_noise", "speed"])
@pytest.mark.slow
def test_spoiled_set_does_not_depend_on_batch_size(corruption):
    store, manifest = _store_and_manifest()
    source = ClipSource(store, manifest)
    suite = registry.build_suite([corruption], SR) if corruption else {}
    c = suite.get(corruption)
    one = _collect(evaluation_dataset(source, 5000, 1, c, 3 if c else 0, seed=0))
    many = _collect(evaluation_dataset(source, 5000, 32, c, 3 if c else 0, seed=0))
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], manifest.label_ids)


@pytest.mark.slow
def test_a_clips_spoiled_version_depends_on_its_id_not_on_its_position_or_companions():
    store, manifest = _store_and_manifest()
    noise = registry.build_suite(["white_noise"], SR)["white_noise"]
    full = _collect(evaluation_dataset(ClipSource(store, manifest), 5000, 4, noise, 4, seed=9))[0]
    reversed_manifest = manifest.replace(manifest.frame.iloc[::-1])
    reversed_ = _collect(evaluation_dataset(ClipSource(store, reversed_manifest), 5000, 3, noise, 4, seed=9))[0]
    np.testing.assert_array_equal(full, reversed_[::-1])
    other_seed = _collect(evaluation_dataset(ClipSource(store, manifest), 5000, 4, noise, 4, seed=10))[0]
    assert not np.array_equal(full, other_seed)


def test_evaluation_refuses_a_severity_outside_one_to_five():
    store, manifest = _store_and_manifest()
    noise = registry.build_suite(["white_noise"], SR)["white_noise"]
    with pytest.raises(ValueError, match="severity"):
        evaluation_dataset(ClipSource(store, manifest), 5000, 4, noise, 0)


def test_a_balanced_stream_draws_from_each_corpus_equally_and_reproducibly():
    store, manifest = _store_and_manifest(n=40)
    frame = manifest.frame.copy()
    frame["corpus"] = ["big"] * 34 + ["small"] * 6  # labels: clip index parity; "small" is clips 34..39
    frame["label"] = ["big"] * 34 + ["small"] * 6
    source = ClipSource(store, Manifest(frame, name="two"))
    assert source.group_names == ["big", "small"]
    first = _collect(training_dataset(source, 4000, 8, seed=5, balance_groups=True), batches=50)
    again = _collect(training_dataset(source, 4000, 8, seed=5, balance_groups=True), batches=50)
    np.testing.assert_array_equal(first[0], again[0])
    share_small = np.mean(first[1] == 1)
    assert 0.4 < share_small < 0.6  # 6 of 40 clips, drawn half of the time
    unbalanced = _collect(training_dataset(source, 4000, 8, seed=5), batches=50)[1]
    assert np.mean(unbalanced == 1) < 0.25


def test_balancing_one_corpus_changes_nothing():
    store, manifest = _store_and_manifest()
    source = ClipSource(store, manifest)
    plain = _collect(training_dataset(source, 4000, 4, seed=2), batches=6)
    balanced = _collect(training_dataset(source, 4000, 4, seed=2, balance_groups=True), batches=6)
    np.testing.assert_array_equal(plain[0], balanced[0])
