"""The long-file report: the CSV holds the table exactly (to its printed precision); the PNG is drawn."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from keras_audio.api import WindowTable
from keras_audio.timeline import TimelineSpectrogram, WindowCsv, plot_timeline, write_window_csv


def _table(count=6, smooth=0, classes=("speech", "music", "noise")):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(len(classes)), count).astype(np.float32)
    starts = np.arange(count) * 0.5
    return WindowTable(
        start_s=starts,
        end_s=np.minimum(starts + 1.0, 0.5 * count + 0.25),
        probabilities=probabilities,
        label_ids=probabilities.argmax(axis=1),
        class_names=classes,
        smooth=smooth,
    )


def test_csv_round_trips_the_table(tmp_path):
    table = _table()
    frame = pd.read_csv(write_window_csv(table, tmp_path / "windows.csv"))
    assert list(frame.columns) == ["start_s", "end_s", "p_speech", "p_music", "p_noise", "label"]
    np.testing.assert_allclose(frame[["start_s", "end_s"]].to_numpy(), np.stack([table.start_s, table.end_s], 1))
    np.testing.assert_allclose(frame[["p_speech", "p_music", "p_noise"]].to_numpy(), table.probabilities, rtol=1e-5)
    assert frame["label"].tolist() == table.labels


def test_csv_of_several_files_has_a_file_column(tmp_path):
    frame = pd.read_csv(write_window_csv({"a.wav": _table(2), "b.flac": _table(3)}, tmp_path / "all.csv"))
    assert frame.columns[0] == "file" and frame["file"].tolist() == ["a.wav"] * 2 + ["b.flac"] * 3
    with pytest.raises(ValueError, match="different classes"):
        write_window_csv({"a.wav": _table(2), "b.wav": _table(2, classes=("x", "y"))}, tmp_path / "bad.csv")


def test_table_refuses_inconsistent_sizes():
    with pytest.raises(ValueError, match="inconsistent sizes"):
        WindowTable(np.zeros(2), np.ones(2), np.full((3, 2), 0.5), np.zeros(2, int), ("a", "b"))


def test_timeline_png_is_written(tmp_path):
    rate = 8000
    t = np.arange(int(3.25 * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = plot_timeline(samples, rate, _table(smooth=3), tmp_path / "plots" / "timeline.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 800 and image.size[1] > 400
    with pytest.raises(ValueError, match="non-empty mono"):
        plot_timeline(np.zeros((2, 100), np.float32), rate, _table(), tmp_path / "x.png")


def test_the_spectrogram_of_blocks_is_the_layer_s_of_the_whole_recording():
    rate = 8000
    x = (0.1 * np.random.default_rng(0).standard_normal(int(3.3 * rate))).astype(np.float32)
    whole = TimelineSpectrogram(rate)
    expected = whole.layer(x[None])[0].numpy()  # the suite's log-mel of the whole recording
    blocks = TimelineSpectrogram(rate)
    for block in np.split(x, [5, 1000, 1001, 9999, 20000]):  # edges inside frames, a 1-sample block
        blocks.add(block)
    db, seconds = blocks.spectrogram()
    np.testing.assert_allclose(db, expected, atol=1e-4, rtol=0)
    assert seconds == pytest.approx(0.010) and blocks.samples == x.size


def test_a_long_recording_keeps_at_most_max_columns_of_mean_power():
    rate = 8000
    x = (0.1 * np.random.default_rng(1).standard_normal(int(3.3 * rate))).astype(np.float32)
    power = 10 ** (TimelineSpectrogram(rate).layer(x[None])[0].numpy() / 10)  # each frame's mel power (noise:
    # nothing is floored at top_db)
    pooled = TimelineSpectrogram(rate, max_columns=40)
    for block in np.array_split(x, 7):
        pooled.add(block)
    db, seconds = pooled.spectrogram()
    assert pooled.frames_per_column == 16 and db.shape == (-(-len(power) // 16), 64) and seconds == 0.16
    groups = [power[i : i + 16].mean(axis=0) for i in range(0, len(power), 16)]
    np.testing.assert_allclose(db, 10 * np.log10(np.stack(groups)), atol=1e-3)


def test_window_csv_written_file_by_file_is_write_window_csv(tmp_path):
    tables = {"a.wav": _table(2), "b.flac": _table(3)}
    with WindowCsv(tmp_path / "one.csv", tables["a.wav"].class_names, with_file=True) as writer:
        for source, table in tables.items():
            writer.write(table, source)
    assert (tmp_path / "one.csv").read_text() == write_window_csv(tables, tmp_path / "all.csv").read_text()
    with pytest.raises(ValueError, match="classes"), WindowCsv(tmp_path / "x.csv", ("x", "y"), False) as writer:
        writer.write(_table(2))
