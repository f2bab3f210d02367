"""Streamed clip source: the same clips and spoiled test set as the in-memory source, a reproducible bounded
training shuffle, and the choice between the two sources."""

import numpy as np
import pandas as pd
import pytest

from keras_audio.cache import WaveformStore
from keras_audio.corruptions import registry
from keras_audio.grid import evaluate_grid, grid
from keras_audio.manifest import Manifest
from keras_audio.pipeline import ClipSource, evaluation_dataset, training_dataset
from keras_audio.streaming import StreamedClipSource, make_source, resolve_source
from tests.test_pipeline import _collect  # drains a dataset into arrays

SR = 8000


def _on_disk(tmp_path, n=23, seed=0):
    """A decode cache's layout (samples.npy memory-mapped, offsets, lengths) and a manifest of its clips."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1500, 6000, size=n)
    samples = (0.1 * rng.standard_normal(int(lengths.sum()))).astype(np.float32)
    np.save(tmp_path / "samples.npy", samples)
    clip_ids = [f"clip{i:02d}" for i in range(n)]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    store = WaveformStore(np.load(tmp_path / "samples.npy", mmap_mode="r"), offsets, lengths, clip_ids, SR)
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": ["a" if i % 3 else "b" for i in range(n)],
            "speaker": [f"s{i // 2}" for i in range(n)],
            "split": "test",
        }
    )
    # A subset in another order: offsets in the file are not the positions in the split.
    manifest = Manifest(frame, name="unit")
    return store, manifest.replace(manifest.frame.iloc[[5, 2, 17, 0, 9, 22, 11, 3, 14, 8, 20, 1]])


def test_streamed_clips_are_the_in_memory_clips(tmp_path):
    store, manifest = _on_disk(tmp_path)
    memory, streamed = ClipSource(store, manifest), StreamedClipSource(store, manifest)
    assert len(streamed) == len(memory) == 12 and streamed.clip_ids == memory.clip_ids
    np.testing.assert_array_equal(streamed.labels, memory.labels)
    np.testing.assert_array_equal(streamed.clip_hashes, memory.clip_hashes)
    for i in range(len(memory)):
        np.testing.assert_array_equal(
            streamed.clip(int(streamed.offsets[i]), int(streamed.lengths[i])).numpy(),
            memory.clip(int(memory.offsets[i]), int(memory.lengths[i])).numpy(),
        )
        np.testing.assert_array_equal(
            streamed.clip(int(streamed.offsets[i]), int(streamed.lengths[i])).numpy(),
            store.waveform(store.indices([memory.clip_ids[i]])[0]),
        )


@pytest.mark.parametrize("corruption", [None, "speed"])
@pytest.mark.slow
def test_the_spoiled_test_set_is_identical_clip_for_clip(tmp_path, corruption):
    store, manifest = _on_disk(tmp_path)
    c = registry.build_suite([corruption], SR)[corruption] if corruption else None
    memory = _collect(evaluation_dataset(ClipSource(store, manifest), 4000, 5, c, 4 if c else 0, seed=3))
    streamed = _collect(evaluation_dataset(StreamedClipSource(store, manifest), 4000, 5, c, 4 if c else 0, seed=3))
    np.testing.assert_array_equal(streamed[0], memory[0])
    np.testing.assert_array_equal(streamed[1], memory[1])


@pytest.mark.slow
def test_the_grid_scores_the_same_from_either_source(tmp_path):
    store, manifest = _on_disk(tmp_path)
    conditions = grid(registry.build_suite(["white_noise"], SR), [5])

    def predict(waveforms):  # a fixed function of the samples: any difference in a clip changes it
        energy = np.sqrt(np.mean(np.asarray(waveforms) ** 2, axis=1))
        return np.stack([energy, 1.0 - energy], axis=1)

    memory = evaluate_grid({"m": predict}, ClipSource(store, manifest), conditions, 4000, 5, 1, progress=False)
    streamed = evaluate_grid(
        {"m": predict}, StreamedClipSource(store, manifest), conditions, 4000, 5, 1, progress=False
    )
    assert list(streamed.probabilities) == list(memory.probabilities)
    for key, probabilities in memory.probabilities.items():
        np.testing.assert_array_equal(streamed.probabilities[key], probabilities)


@pytest.mark.slow
def test_the_training_stream_is_reproducible_and_each_pass_serves_every_clip_once(tmp_path):
    store, manifest = _on_disk(tmp_path)
    source = StreamedClipSource(store, manifest, block_clips=3, cycle_blocks=2, shuffle_buffer=4)
    noise = registry.build_suite(["white_noise"], SR)
    from keras_audio.corruptions.policy import parse_policy

    policy = parse_policy("noise", noise, probability=1.0).waveform
    first = _collect(training_dataset(source, 3000, 4, seed=7, waveform_policy=policy), batches=4)
    again = _collect(training_dataset(source, 3000, 4, seed=7, waveform_policy=policy), batches=4)
    other = _collect(training_dataset(source, 3000, 4, seed=8, waveform_policy=policy), batches=4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0].shape == (16, 3000) and not np.array_equal(first[0], other[0])
    order = [int(h) for *_, h in source.shuffled(7).take(3 * len(source)).as_numpy_iterator()]
    for start in range(0, len(order), len(source)):  # three passes, each a different permutation
        assert sorted(order[start : start + len(source)]) == sorted(source.clip_hashes.tolist())
    assert order[: len(source)] != order[len(source) : 2 * len(source)]


def test_the_source_is_chosen_by_flag_and_by_size(tmp_path):
    store, manifest = _on_disk(tmp_path)
    in_memory = WaveformStore(np.asarray(store.samples), store.offsets, store.lengths, store.clip_ids, SR)
    assert resolve_source("auto", store, manifest, threshold_gb=0) == "stream"
    assert resolve_source("auto", store, manifest, threshold_gb=2.0) == "memory"
    assert resolve_source("auto", in_memory, manifest, threshold_gb=0) == "memory"  # nothing on disk to stream
    assert resolve_source("memory", store, manifest, threshold_gb=0) == "memory"
    assert isinstance(make_source("stream", store, manifest), StreamedClipSource)
    assert type(make_source("memory", store, manifest)) is ClipSource
    with pytest.raises(ValueError, match="in-memory ndarray"):
        resolve_source("stream", in_memory, manifest)
    with pytest.raises(ValueError, match="'disk'"):
        resolve_source("disk", store, manifest)
    with pytest.raises(ValueError, match="shuffle_buffer"):
        StreamedClipSource(store, manifest, shuffle_buffer=0)


def test_a_cache_changed_under_the_source_is_an_error_naming_the_file(tmp_path):
    store, manifest = _on_disk(tmp_path)
    source = StreamedClipSource(store, manifest)
    last = int(np.argmax(source.offsets))
    with open(tmp_path / "samples.npy", "r+b") as handle:
        handle.truncate(source._data_offset + 4 * int(source.offsets[last]))
    with pytest.raises(Exception, match="samples.npy"):
        source.clip(int(source.offsets[last]), int(source.lengths[last])).numpy()
