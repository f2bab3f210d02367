"""`keras-audio predict`: long files streamed in blocks give the answers of the whole file read at once; outputs
never overwrite inputs or each other; files of one name get a plot each; implausible sample rates are refused."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import tensorflow as tf

from keras_audio.api import load_model
from keras_audio.config import FeatureConfig
from keras_audio.export import export_model
from keras_audio.models import build_model
from keras_audio.suite import cli
from keras_audio.suite.predict_command import plot_paths, predict_paths
from keras_audio.windowing import frame_windows, window_starts

pytestmark = pytest.mark.slow  # exports a model and predicts files with it

RATE = 16000
CLIP = 8000  # 0.5 s
FEATURES = FeatureConfig(n_mels=16)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    model = build_model("conv1d", 2, RATE, FEATURES, filters=(4,))
    return export_model(
        model,
        tmp_path_factory.mktemp("export"),
        class_names=["low", "high"],
        sample_rate=RATE,
        clip_samples=CLIP,
        extra_metadata={"features": {"n_fft": FEATURES.n_fft}},
    )


def _talk(path, seconds: float, rate: int, channels: int = 1):
    """Quiet noise with tones that come and go, written in blocks."""
    rng = np.random.default_rng(7)
    with sf.SoundFile(str(path), "w", rate, channels, subtype="PCM_16") as handle:
        for start in range(0, int(seconds * rate), 60 * rate):
            t = np.arange(start, min(start + 60 * rate, int(seconds * rate))) / rate
            wave = 0.01 * rng.standard_normal(t.size) + 0.2 * np.sin(2 * np.pi * 300 * t) * (np.sin(0.3 * t) > 0)
            handle.write(np.stack([wave * (1 - 0.2 * c) for c in range(channels)], axis=1))
    return path


def test_a_long_file_read_in_blocks_gets_the_answers_of_the_file_read_whole(model_dir, tmp_path):
    """Three minutes at 22.05 kHz stereo (downmixed, resampled to 16 kHz) in blocks of 7.3 s: the windows,
    their probabilities and the file's answer are those of the whole waveform framed at once."""
    path = _talk(tmp_path / "talk.wav", 180.0, 22050, channels=2)
    [streamed] = predict_paths(
        model_dir,
        [path],
        block_seconds=7.3,
        windows_out=tmp_path / "w.csv",
        out=tmp_path / "a.csv",
        progress=False,
        print_line=lambda line: None,
    )
    classifier = load_model(model_dir)
    whole = classifier.read(path)  # the whole file at once, as the evaluation reads it
    starts = window_starts(len(whole), CLIP).numpy()
    expected = classifier.probabilities(frame_windows(tf.constant(whole), CLIP).numpy())
    assert len(streamed.windows) == len(starts) == 719
    np.testing.assert_array_equal(np.round(streamed.windows.start_s * RATE), starts)
    np.testing.assert_allclose(streamed.windows.probabilities, expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(streamed.probabilities, expected.mean(axis=0), atol=1e-6, rtol=0)
    assert streamed.label == classifier.class_names[int(expected.mean(axis=0).argmax())]
    assert streamed.duration_s == pytest.approx(len(whole) / RATE)
    rows = pd.read_csv(tmp_path / "w.csv")
    assert list(rows.columns) == ["file", "start_s", "end_s", "p_low", "p_high", "label"] and len(rows) == 719
    np.testing.assert_allclose(rows[["p_low", "p_high"]].to_numpy(), expected, rtol=1e-5)
    assert pd.read_csv(tmp_path / "a.csv")["windows"].tolist() == [719]
    blocks = []
    classifier.predict_file(path, block_seconds=7.3, on_samples=blocks.append)
    assert len(blocks) == 25 and sum(b.size for b in blocks) == len(whole)  # it was read in blocks


def _two_clips(root):
    paths = []
    for folder, freq in (("a", 300.0), ("b", 900.0)):
        t = np.arange(int(0.8 * RATE)) / RATE
        path = root / folder / "clip.wav"
        path.parent.mkdir(parents=True)
        sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), RATE)
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--out", "{a}"], "--out {a}: named like an audio file"),
        (["--windows-out", "{b}"], "--windows-out {b}: named like an audio file"),
        (["--out", "{root}/answers.WAV"], "named like an audio file (.WAV)"),
        (["--plot", "{root}/timeline.flac"], "--plot {root}/timeline-a_clip.flac: named like an audio file"),
        (
            ["--out", "{root}/same.csv", "--windows-out", "{root}/same.csv"],
            "--windows-out {root}/same.csv: the same file as --out {root}/same.csv",
        ),
        (
            ["--out", "{root}/tl-b_clip.png", "--plot", "{root}/tl.png"],
            "--plot {root}/tl-b_clip.png: the same file as --out {root}/tl-b_clip.png",
        ),
    ],
)
def test_outputs_that_would_overwrite_an_input_or_each_other_are_refused(model_dir, tmp_path, capsys, flags, message):
    a, b = _two_clips(tmp_path)
    before = a.read_bytes(), b.read_bytes()
    names = {"a": a, "b": b, "root": tmp_path}
    argv = ["predict", str(model_dir), str(a), str(b), "--no-progress"] + [f.format(**names) for f in flags]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.format(**names) in err[0], err
    assert (a.read_bytes(), b.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # nothing written


def test_an_output_linked_to_an_input_is_refused(model_dir, tmp_path, capsys):
    a, b = _two_clips(tmp_path)
    (tmp_path / "link.csv").symlink_to(a)
    assert cli.main(["predict", str(model_dir), str(a), "--out", str(tmp_path / "link.csv")]) == 2
    assert "is one of the input files" in capsys.readouterr().err


def test_files_of_one_name_in_two_folders_get_a_plot_each_named_in_the_output(model_dir, tmp_path, capsys):
    a, b = _two_clips(tmp_path)
    assert (
        cli.main(["predict", str(model_dir), str(a), str(b), "--plot", str(tmp_path / "tl.png"), "--no-progress"]) == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    plots = [tmp_path / "tl-a_clip.png", tmp_path / "tl-b_clip.png"]
    assert all(p.is_file() for p in plots) and plots[0].read_bytes() != plots[1].read_bytes()
    assert [line.split("; timeline ")[1] for line in out] == [str(p) for p in plots]
    assert out[0].startswith(f"{a}: ") and out[1].startswith(f"{b}: ")


def test_plot_names_tell_files_apart(tmp_path):
    files = [
        tmp_path / "x" / "clip.wav",
        tmp_path / "y" / "z" / "clip.wav",
        tmp_path / "x" / "clip.flac",
        tmp_path / "x" / "talk.wav",
        tmp_path / "x" / "talk.wav",
    ]
    assert [p.name for p in plot_paths(tmp_path / "t.png", files)] == [
        "t-x_clip_wav.png",
        "t-y_z_clip_wav.png",
        "t-x_clip_flac.png",
        "t-talk.png",
        "t-talk-2.png",
    ]
    assert plot_paths(tmp_path / "t.png", files[:1]) == [tmp_path / "t.png"]


@pytest.mark.parametrize("rate", [1, 100])
def test_a_header_rate_of_one_or_a_hundred_hertz_is_refused_naming_the_file_and_the_rate(
    model_dir, tmp_path, capsys, rate
):
    path = tmp_path / f"r{rate}.wav"
    sf.write(str(path), (0.1 * np.random.default_rng(0).standard_normal(2000)).astype(np.float32), rate)
    assert cli.main(["predict", str(model_dir), str(path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no answer
    lines = captured.err.strip().splitlines()
    assert lines[0].endswith("1 of 1 file(s) could not be used:")
    assert lines[1:] == [
        f"  {path}: sample rate {rate} Hz is implausible (below 1000 Hz): a damaged or mis-written header"
    ]
