"""Background noise from a folder: SNR calibrated, excerpts from the files (looped when short), clear errors."""

import numpy as np
import pytest
import soundfile as sf

from keras_audio.audio import AudioError
from keras_audio.corruptions import registry
from keras_audio.corruptions.background import BackgroundNoise
from keras_audio.corruptions.noise import SNR_DB


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
@pytest.mark.slow
def test_snr_measured_on_output_is_the_target(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(120, 0.5)
    spoiled = graph_call(suite["background_noise"])(clean, helpers.seed(severity, 8), severity)
    assert helpers.rms_db(clean) - helpers.rms_db(spoiled - clean) == pytest.approx(SNR_DB[severity - 1], abs=0.1)


def test_noise_comes_from_the_recordings_and_short_ones_loop(tmp_path, helpers):
    period = 800  # a 50-ms recording, much shorter than the clip
    tone = helpers.sine(1000.0, period / helpers.SAMPLE_RATE)
    sf.write(tmp_path / "tone.wav", tone, helpers.SAMPLE_RATE, subtype="FLOAT")
    corruption = BackgroundNoise(helpers.SAMPLE_RATE, tmp_path)
    clean = helpers.harmonic_tone(150, 0.5)
    added = corruption(clean, helpers.seed(4), 3).numpy() - clean
    np.testing.assert_allclose(added[:-period], added[period:], atol=1e-5)  # looped with the file's period
    spectrum = np.abs(np.fft.rfft(added))
    assert np.argmax(spectrum) * helpers.SAMPLE_RATE / added.size == pytest.approx(1000.0, abs=3)


def test_each_clip_picks_one_file_with_its_seed(tmp_path, helpers):
    for frequency in (700.0, 2100.0):
        sf.write(tmp_path / f"tone{int(frequency)}.wav", helpers.sine(frequency, 1.0), helpers.SAMPLE_RATE)
    corruption = BackgroundNoise(helpers.SAMPLE_RATE, tmp_path)
    clean = np.full(4000, 0.1, np.float32)
    found = set()
    for s in range(12):
        added = corruption(clean, helpers.seed(s), 2).numpy() - clean
        spectrum = np.abs(np.fft.rfft(added - added.mean()))
        found.add(int(round(np.argmax(spectrum) * helpers.SAMPLE_RATE / added.size / 100.0)) * 100)
    assert found == {700, 2100}


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="noise_dir.*nowhere.*no such folder"):
        BackgroundNoise(16000, tmp_path / "nowhere")


def test_folder_without_audio_is_named(tmp_path):
    (tmp_path / "LICENSE").write_text("text")
    with pytest.raises(ValueError, match=f"{tmp_path}.*no audio file"):
        BackgroundNoise(16000, tmp_path)


def test_unreadable_recording_names_the_file(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wav file")
    with pytest.raises(AudioError, match="broken.wav"):
        BackgroundNoise(16000, tmp_path)


def test_registry_needs_a_noise_dir():
    with pytest.raises(registry.MissingResource, match="noise_dir"):
        registry.build("background_noise", 16000)
