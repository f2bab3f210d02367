"""The segments picture: an envelope that keeps the extremes, and a PNG."""

import numpy as np
from PIL import Image

from keras_audio.asr.plot import envelope, segments_plot
from keras_audio.asr.segmentation import WordProblem, segment_words
from keras_audio.asr.transcript import Word


def test_envelope_keeps_each_slices_minimum_and_maximum():
    x = np.zeros(1000, np.float32)
    x[10], x[995] = 0.9, -0.7
    starts, low, high = envelope(x, columns=10)
    assert starts.tolist() == list(range(0, 1000, 100))
    assert high[0] == np.float32(0.9) and low[9] == np.float32(-0.7) and high[1:].max() == 0
    assert envelope(x[:5], columns=10)[0].size == 5


def test_segments_plot_writes_a_png(tmp_path):
    words = [Word(0.1 + i, 0.6 + i, "a") for i in range(8)]
    segments = segment_words(words, 3.0)
    x = np.random.default_rng(0).standard_normal(8 * 8000).astype(np.float32) * 0.1
    path = segments_plot(x, 8000, segments, tmp_path / "s.png", [WordProblem(3, words[3], "empty text")])
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 1000
