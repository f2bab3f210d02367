"""Clip banks: contiguous excerpts of long clips, looped excerpts of short ones; folder loading."""

import numpy as np
import pytest
import soundfile as sf

from keras_audio.corruptions.banks import ClipBank, audio_files, load_folder


def test_long_clip_gives_a_contiguous_excerpt(helpers):
    clip = np.arange(1000, dtype=np.float32)
    bank = ClipBank([clip])
    for s in range(5):
        out = bank.excerpt(300, helpers.seed(s)).numpy()
        np.testing.assert_array_equal(np.diff(out), 1.0)
        assert 0 <= out[0] <= 700


def test_short_clip_is_looped_from_a_random_offset(helpers):
    bank = ClipBank([np.arange(10, dtype=np.float32)])
    starts = set()
    for s in range(10):
        out = bank.excerpt(35, helpers.seed(s)).numpy()
        np.testing.assert_array_equal(out, (out[0] + np.arange(35)) % 10)
        starts.add(out[0])
    assert len(starts) > 3


def test_excerpts_come_from_one_clip_each(helpers):
    bank = ClipBank([np.zeros(500, np.float32), np.ones(700, np.float32)])
    values = {float(np.unique(bank.excerpt(400, helpers.seed(s)).numpy())[0]) for s in range(12)}
    assert values == {0.0, 1.0}


def test_empty_inputs_are_errors():
    with pytest.raises(ValueError, match="needs at least one clip"):
        ClipBank([])
    with pytest.raises(ValueError, match=r"clip\(s\) \[1\] are empty"):
        ClipBank([np.ones(3), np.zeros(0)])


def test_folder_is_read_recursively_by_suffix_and_resampled(tmp_path):
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "a.wav", np.full((4410, 2), 0.1), 44100)
    (tmp_path / "notes.txt").write_text("skip me")
    waveforms, files = load_folder(tmp_path, 16000, "noise_dir")
    assert [f.name for f in files] == ["a.wav"]
    assert waveforms[0].shape == (1600,)


def test_bank_size_limit(tmp_path):
    sf.write(tmp_path / "a.wav", np.full(6400, 0.1), 16000)
    sf.write(tmp_path / "b.wav", np.full(6400, 0.1), 16000)
    with pytest.raises(ValueError, match="noise_dir .*: 1 s of audio, more than the limit of 0 s"):
        load_folder(tmp_path, 16000, "noise_dir", max_seconds=0.5)
    with pytest.raises(ValueError, match="not a folder"):
        audio_files(tmp_path / "a.wav", "ir_dir")
