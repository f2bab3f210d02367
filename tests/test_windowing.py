"""Windowing: the documented rule exactly, windows that are slices of the clip, a short clip as its centre crop."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_audio.windowing import WindowStream, center_crop_or_pad, default_hop, frame_windows, window_starts


@pytest.mark.parametrize(
    "num_samples, window, hop, starts",
    [
        (10, 4, 2, [0, 2, 4, 6]),  # the hops land on the end exactly
        (11, 4, 2, [0, 2, 4, 6, 7]),  # the last window is moved back to end at the end of the file
        (5, 4, 4, [0, 1]),
        (4, 4, 2, [0]),  # exactly one window
        (3, 8, 4, [-2]),  # shorter: one window, starting in the padding before the clip
        (0, 4, 2, [-2]),
    ],
)
def test_window_starts_follow_the_documented_rule(num_samples, window, hop, starts):
    assert window_starts(num_samples, window, hop).numpy().tolist() == starts


def test_windows_are_slices_of_the_clip_and_the_last_ends_at_the_end():
    x = tf.range(11, dtype=tf.float32)
    windows = frame_windows(x, 4, 2).numpy()
    assert windows.tolist() == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9], [7, 8, 9, 10]]


def test_a_clip_shorter_than_a_window_is_its_centre_padded_crop():
    for size in (1, 3, 6, 7):
        x = tf.range(1, size + 1, dtype=tf.float32)
        windows = frame_windows(x, 8)
        assert windows.shape == (1, 8)
        np.testing.assert_array_equal(windows[0].numpy(), center_crop_or_pad(x, 8).numpy())


def test_default_hop_is_half_a_window():
    assert default_hop(32000) == 16000 and default_hop(5) == 2 and default_hop(1) == 1
    np.testing.assert_array_equal(window_starts(20, 8).numpy(), window_starts(20, 8, 4).numpy())


def test_works_in_a_graph_on_clips_of_unknown_length():
    """Evaluation windows whole decoded clips inside tf.data / tf.function."""
    framed = tf.function(lambda x: frame_windows(x, 4, 2), input_signature=[tf.TensorSpec([None], tf.float32)])
    assert framed(tf.range(11, dtype=tf.float32)).shape == (5, 4)
    assert framed(tf.range(2, dtype=tf.float32)).numpy().tolist() == [[0, 0, 1, 0]]
    dataset = tf.data.Dataset.from_tensor_slices(tf.range(12, dtype=tf.float32)[None]).map(
        lambda x: tf.reduce_mean(frame_windows(x, 6, 3), axis=1)
    )
    assert next(iter(dataset)).numpy().tolist() == [2.5, 5.5, 8.5]


@settings(max_examples=40, deadline=None)
@given(num_samples=st.integers(0, 200), window=st.integers(1, 40), hop_fraction=st.floats(0.01, 1.0))
def test_windows_cover_every_sample_hop_apart(num_samples, window, hop_fraction):
    hop = max(1, int(window * hop_fraction))
    starts = window_starts(num_samples, window, hop).numpy()
    if num_samples <= window:
        assert starts.tolist() == [-((window - num_samples) // 2)]
        return
    assert starts[0] == 0 and starts[-1] == num_samples - window
    assert len(starts) == 1 + -(-(num_samples - window) // hop)
    gaps = np.diff(starts)
    assert np.all(gaps[:-1] == hop) and 0 < gaps[-1] <= hop
    x = tf.range(num_samples, dtype=tf.float32)
    np.testing.assert_array_equal(
        frame_windows(x, window, hop).numpy(), np.stack([np.arange(s, s + window) for s in starts])
    )


@pytest.mark.parametrize(
    "window, hop, message",
    [
        (0, None, "window must be a positive int"),
        (4.0, None, "window must be a positive int"),
        (4, 0, "hop must be a positive int"),
        (4, 5, r"hop \(5 samples\) must not exceed the window \(4 samples\)"),
    ],
)
def test_refuses_bad_windows(window, hop, message):
    with pytest.raises(ValueError, match=message):
        frame_windows(tf.zeros([10]), window, hop)
    with pytest.raises(ValueError, match=message):
        window_starts(10, window, hop)


def test_refuses_a_batch():
    with pytest.raises(ValueError, match=r"one clip \[samples\]"):
        frame_windows(tf.zeros([2, 10]), 4)


def _streamed(x: np.ndarray, window: int, hop: int, cuts, batch: int):
    """`x` handed to a WindowStream in blocks ending at `cuts`, windows taken `batch` at a time as they are ready
    (full batches while reading, the rest after the end): `(starts, windows, batch sizes)`."""
    stream = WindowStream(window, hop)
    starts, windows, sizes = [], [], []

    def drain(final):
        while stream.ready() >= batch or (final and stream.ready()):
            s, w = stream.take(batch)
            starts.append(s), windows.append(w), sizes.append(len(s))

    for block in np.split(x, sorted(cuts)):
        stream.add(block)
        drain(False)
    stream.finish()
    drain(True)
    assert stream.samples == len(x) and stream.ready() == 0
    return np.concatenate(starts), np.concatenate(windows), sizes


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(1, 300),
    window=st.integers(1, 40),
    hop_fraction=st.floats(0.01, 1.0),
    cuts=st.lists(st.integers(0, 300), max_size=8),
    batch=st.integers(1, 9),
)
def test_a_stream_of_blocks_gives_the_windows_of_the_whole_clip(num_samples, window, hop_fraction, cuts, batch):
    hop = max(1, int(window * hop_fraction))
    x = np.random.default_rng(num_samples).standard_normal(num_samples).astype(np.float32)
    starts, windows, sizes = _streamed(x, window, hop, [c for c in cuts if c <= num_samples], batch)
    np.testing.assert_array_equal(starts, window_starts(num_samples, window, hop).numpy())
    np.testing.assert_array_equal(windows, frame_windows(tf.constant(x), window, hop).numpy())
    # The batches are those of the whole clip cut `batch` at a time: full ones, the remainder last.
    assert sizes == [batch] * (len(starts) // batch) + ([len(starts) % batch] if len(starts) % batch else [])


def test_a_stream_holds_about_one_window_and_one_block():
    stream = WindowStream(100, 50)
    for _ in range(200):
        stream.add(np.ones(30, np.float32))
        while stream.ready():
            stream.take(4)
        assert stream._buffer.size <= 100 + 30
    stream.finish()
    with pytest.raises(ValueError, match="add after finish"):
        stream.add(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="no samples"):
        WindowStream(4).finish()
