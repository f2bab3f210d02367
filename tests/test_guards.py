"""check_finite_probabilities: finite probabilities pass through; NaN or infinite rows are refused by clip."""

import numpy as np
import pytest

from keras_audio.guards import NonFinitePredictionError, check_finite_probabilities


def test_finite_probabilities_pass_unchanged():
    probabilities = np.array([[0.2, 0.8], [1.0, 0.0]], np.float32)
    assert check_finite_probabilities(probabilities, ["a", "b"], "m") is probabilities


def test_non_finite_rows_are_refused_naming_every_clip():
    probabilities = np.array([[np.nan, np.nan], [0.4, 0.6], [np.inf, 0.0]], np.float32)
    assert np.argmax(probabilities[0]) == 0  # what evaluation would otherwise score: a vote for class 0
    message = r"conv1d on clean: .* 2 of 3 clip\(s\): x\.wav, z\.wav"
    with pytest.raises(NonFinitePredictionError, match=message) as caught:
        check_finite_probabilities(probabilities, ["x.wav", "y.wav", "z.wav"], "conv1d on clean")
    assert caught.value.clip_ids == ["x.wav", "z.wav"]


def test_many_bad_clips_are_counted_and_the_first_shown():
    with pytest.raises(NonFinitePredictionError, match=r"25 of 25 clip\(s\): c0, c1, .*c9 and 15 more"):
        check_finite_probabilities(np.full((25, 3), np.nan), [f"c{i}" for i in range(25)], "m")


@pytest.mark.parametrize(
    "probabilities, ids, message",
    [
        (np.zeros(3), ["a", "b", "c"], r"\[clips, classes\]"),
        (np.zeros((2, 2)), ["a"], "2 rows of probabilities for 1 clip ids"),
    ],
)
def test_malformed_arguments_are_refused(probabilities, ids, message):
    with pytest.raises(ValueError, match=message):
        check_finite_probabilities(probabilities, ids, "m")
