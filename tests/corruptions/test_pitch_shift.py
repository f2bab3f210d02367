"""Pitch shift: F0 moves by the semitones asked (within 0.25), length kept; agrees with librosa."""

import librosa
import numpy as np
import pytest

from keras_audio.corruptions.pitch_shift import PitchShift


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_f0_moves_by_the_semitones_and_length_is_kept(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(150, 1.0)
    corruption = suite["pitch_shift"]
    target = PitchShift.severities["semitones"][severity - 1]
    signs = set()
    for s in range(8):
        semitones = float(corruption.sample(helpers.seed(s, severity), severity)["semitones"])
        assert abs(semitones) == pytest.approx(target)
        out = graph_call(corruption)(clean, helpers.seed(s, severity), severity)
        assert out.size == clean.size
        moved = 12 * np.log2(helpers.median_f0(out) / helpers.median_f0(clean))
        assert moved == pytest.approx(semitones, abs=0.25)
        signs.add(np.sign(semitones))
    assert signs == {-1.0, 1.0}


@pytest.mark.parametrize("semitones", [-3.0, 2.0])
def test_agrees_with_librosa(semitones, suite, helpers):
    clean = helpers.harmonic_tone(180, 1.0)
    ours = suite["pitch_shift"].apply(clean, {"semitones": np.float32(semitones)}).numpy()
    reference = librosa.effects.pitch_shift(clean, sr=helpers.SAMPLE_RATE, n_steps=semitones)
    assert ours.size == reference.size
    assert 12 * np.log2(helpers.median_f0(ours) / helpers.median_f0(reference)) == pytest.approx(0.0, abs=0.25)
    assert helpers.rms_db(ours) == pytest.approx(helpers.rms_db(reference), abs=1.0)
