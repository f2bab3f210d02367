"""Batched corruption: the spoiled test set a batch at a time is the per-clip one, clip for clip, whatever
the batch size; the batched stateless draws are TensorFlow's own, bit for bit."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from keras_audio.cache import WaveformStore
from keras_audio.corruptions import registry
from keras_audio.corruptions.seeds import (
    batch_random_sign,
    batch_split_seed,
    batch_uniform,
    batch_uniform_int,
    clip_seed,
    clip_seeds,
    random_sign,
    split_seed,
)
from keras_audio.grid import Condition, evaluate_grid
from keras_audio.manifest import Manifest
from keras_audio.pipeline import ClipSource, evaluation_dataset

SR = 16000
CLIP_SAMPLES = 4000
# Ten clips of different lengths: shorter than the clip (padded), exactly it, longer (cropped), one silent.
LENGTHS = (1500, 3999, 4000, 6000, 9001, 2500, 12000, 4001, 700, 5000)
SILENT = 5
SEVERITIES = (2, 5)
BATCH_SIZES = (3, 8)


@pytest.fixture(scope="module")
def source():
    rng = np.random.default_rng(0)
    waveforms = []
    for index, length in enumerate(LENGTHS):
        t = np.arange(length) / SR
        tone = rng.uniform(0.05, 0.8) * np.sin(2 * np.pi * rng.uniform(100, 300) * t)
        waveform = (tone + 0.01 * rng.standard_normal(length)).astype(np.float32)
        waveforms.append(np.zeros(length, np.float32) if index == SILENT else waveform)
    clip_ids = [f"clip{i}" for i in range(len(LENGTHS))]
    offsets = np.concatenate([[0], np.cumsum(LENGTHS)[:-1]])
    store = WaveformStore(np.concatenate(waveforms), offsets, np.array(LENGTHS), clip_ids, SR)
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": ["a", "b"] * 5,
            "speaker": [f"s{i}" for i in range(10)],
            "split": "test",
        }
    )
    return ClipSource(store, Manifest(frame, name="batched"))


def _spoiled(source, corruption, severity, batch_size, batched):
    dataset = evaluation_dataset(source, CLIP_SAMPLES, batch_size, corruption, severity, seed=7, batched=batched)
    return np.concatenate([waveforms.numpy() for waveforms, _ in dataset])


def _grid_spoiled(source, corruption, severities, batch_size):
    """The clips `evaluate_grid` gives its models (one stream, the severity carried in the element)."""
    seen = []

    def record(waveforms):
        seen.append(np.asarray(waveforms).copy())
        return np.full((len(seen[-1]), 2), 0.5, np.float32)

    evaluate_grid(
        {"recorder": record},
        source,
        [Condition(corruption, s) for s in severities],
        CLIP_SAMPLES,
        batch_size,
        seed=7,
        progress=False,
        inference_batch_size=batch_size,
    )
    return np.concatenate(seen).reshape(len(severities), len(LENGTHS), CLIP_SAMPLES)


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.slow
def test_the_batched_spoiled_set_is_the_per_clip_one_clip_for_clip(name, suite, source):
    """Exact for every corruption, at batch sizes 3 (`evaluation_dataset`, severity a Python int) and 8
    (`evaluate_grid`'s stream, severity a tensor in the element), for clips shorter than the window (spoiled at
    their own length in a zero-padded row), as long and longer: the batched draws are TensorFlow's stateless
    ones bit for bit, the cheap families broadcast the same float operations over the batch, and the noise
    powers are sequential sums (`energy`), so the zeros past a clip's end change no bit; no tolerance is needed.
    The default batched path runs the per-clip code itself, row by row.
    """
    corruption = suite[name]
    per_clip = np.stack([_spoiled(source, corruption, severity, 4, batched=False) for severity in SEVERITIES])
    assert per_clip.shape == (len(SEVERITIES), len(LENGTHS), CLIP_SAMPLES)
    np.testing.assert_array_equal(
        _spoiled(source, corruption, SEVERITIES[0], BATCH_SIZES[0], batched=True),
        per_clip[0],
        err_msg=f"{name}: evaluation_dataset, batch {BATCH_SIZES[0]}",
    )
    np.testing.assert_array_equal(
        _grid_spoiled(source, corruption, SEVERITIES, BATCH_SIZES[1]),
        per_clip,
        err_msg=f"{name}: evaluate_grid, batch {BATCH_SIZES[1]}",
    )


def test_the_clean_set_is_the_same_either_way(source):
    np.testing.assert_array_equal(_spoiled(source, None, 0, 3, batched=True), _spoiled(source, None, 0, 4, False))


SEEDS = np.concatenate(
    [
        np.random.default_rng(1).integers(-(2**63), 2**63 - 1, size=(40, 2), dtype=np.int64),
        [[0, 0], [1, 2], [-1, -1], [2**31, -(2**31)]],
    ]
)


def test_batched_draws_are_tensorflows_stateless_draws_bit_for_bit():
    seeds = tf.constant(SEEDS)
    np.testing.assert_array_equal(
        batch_uniform(seeds).numpy(), [tf.random.stateless_uniform([], s).numpy() for s in seeds]
    )
    np.testing.assert_array_equal(
        batch_uniform(seeds, 37).numpy(), np.stack([tf.random.stateless_uniform([37], s).numpy() for s in seeds])
    )
    maxval = np.arange(1, len(SEEDS) + 1, dtype=np.int32) * 977
    np.testing.assert_array_equal(
        batch_uniform_int(seeds, 3, tf.constant(maxval)).numpy(),
        [tf.random.stateless_uniform([], s, 3, m, dtype=tf.int32).numpy() for s, m in zip(seeds, maxval)],
    )
    np.testing.assert_array_equal(batch_random_sign(seeds).numpy(), [random_sign(s).numpy() for s in seeds])
    for k, part in enumerate(batch_split_seed(seeds, 3)):
        np.testing.assert_array_equal(part.numpy(), np.stack([split_seed(s, 3)[k].numpy() for s in seeds]))
    int32_seeds = tf.constant(SEEDS[:8] % 2**31, tf.int32) * -1  # int32 seeds are sign-extended, as by TF
    np.testing.assert_array_equal(
        batch_uniform(int32_seeds).numpy(), [tf.random.stateless_uniform([], s).numpy() for s in int32_seeds]
    )


def test_clip_seeds_are_clip_seed_for_each_clip():
    hashes = tf.constant([0, 1, 12345, 2**40 + 7, -3], tf.int64)
    for severity in (1, 5, np.int64(3)):
        expected = np.stack([tf.cast(clip_seed(11, h, "gain", severity), tf.int64).numpy() for h in hashes])
        np.testing.assert_array_equal(clip_seeds(11, hashes, "gain", severity).numpy(), expected)


def test_corrupt_batch_refuses_one_clip_or_seeds_of_the_wrong_shape(suite):
    gain = suite["gain"]
    with pytest.raises(ValueError, match=r"gain: corrupt_batch expects waveforms of shape \[batch, samples\]"):
        gain.corrupt_batch(tf.zeros([100]), tf.zeros([1, 2], tf.int64), 3)
    with pytest.raises(ValueError, match=r"gain: corrupt_batch expects seeds of shape \[batch, 2\]"):
        gain.corrupt_batch(tf.zeros([2, 100]), tf.zeros([2], tf.int64), 3)
