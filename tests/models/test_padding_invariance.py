"""Every registered family gives a short clip the same prediction whether it is zero-padded to 2 s or to 4 s.

The pipeline pads a 0.6-s spoken digit into the run's fixed window; a model that standardises or pools over
the padding answers differently for the same clip depending on the window length. Each family is built
small with random, non-trivial weights (batch-norm statistics, scales and biases drawn at random, not left
at their identity initialisation), the scikit-learn baselines fitted on a few tones, and the predictions
for the clip padded with zeros to 2 s and to 4 s must agree to `ATOL` (absolute, on probabilities), both
with trailing zeros and centred (`windowing.center_crop_or_pad`, what evaluation does). The spectrogram
families also give the unpadded clip the same answer.

Tolerance: `ATOL = 1e-5`; what remains is float32 summation order in the masked means.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.models import available, build_model, get_family
from keras_audio.models.pretrained import EMBEDDING_SCALE, scale_like
from keras_audio.training import TrainingSettings
from keras_audio.windowing import center_crop_or_pad

ATOL = 1e-5
CLIP_SECONDS = 0.6
PADDED_SECONDS = (2.0, 4.0)

TINY = {
    "conv1d": dict(filters=(4, 6), dropout=0.0),
    "conv2d": dict(filters=(4, 6), dropout=0.0),
    "vgg": dict(filters=(4, 6), dense_units=4, dropout=0.0, block_dropout=0.0),
    "lstm": dict(units=4, time_pool=4, dropout=0.0),
    "crnn": dict(filters=(4, 6), units=4, attention_units=4, dropout=0.0),
    "ae_clf": dict(filters=(4, 6), dropout=0.0),
    "ae_clf_joint": dict(filters=(4, 6), dropout=0.0),
    "mlp_features": dict(hidden=(6,), dropout=0.0),
    "sklearn_logreg": dict(n_mfcc=8),
    "sklearn_forest": dict(n_mfcc=8, n_estimators=10),
    "transfer": dict(hidden=4, dropout=0.0),
}
# Families whose frame features are not defined by the samples inside the clip alone, so the unpadded clip
# differs from the padded ones in its last frames (the padded versions still agree with each other).
UNPADDED_DIFFERS = {
    "mlp_features": "its zero-crossing rate frames are edge-padded (librosa's rule): the unpadded clip's last "
    "frames repeat its last sample where the padded clip's see zeros",
}


def randomize(model: keras.Model, seed: int = 0) -> None:
    """Replace identity-initialised statistics, scales and biases by random values (kernels are random)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if not variable.dtype.startswith("float"):
            continue
        name, shape = variable.name, tuple(variable.shape)
        if name in ("moving_variance", "gamma"):
            variable.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
        elif name in ("moving_mean", "beta", "bias"):
            variable.assign(rng.normal(0.0, 0.3, shape).astype(np.float32))


def clip(sample_rate, make_tones, seed: int = 0, label: int = 0) -> np.ndarray:
    """A 0.6-s harmonic tone with noise (no sample is exactly zero), `[1, samples]`."""
    waveforms, labels = make_tones(4, CLIP_SECONDS, seed=seed)
    return waveforms[list(labels).index(label)][None]


def pad_to(waveform: np.ndarray, seconds: float, sample_rate: int, centred: bool = False) -> np.ndarray:
    """Zero-padded to `seconds`: at the end, or at both ends as the evaluation pipeline pads."""
    if centred:
        return center_crop_or_pad(waveform[0], int(round(seconds * sample_rate))).numpy()[None]
    samples = int(round(seconds * sample_rate))
    return np.pad(waveform, [(0, 0), (0, samples - waveform.shape[1])])


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory, sample_rate, features):
    """A tiny conv1d classifier saved as `.keras`, the transfer family's encoder (it brings its own front-end)."""
    encoder = build_model("conv1d", 2, sample_rate, features, filters=(4,), dropout=0.0)
    randomize(encoder, seed=1)
    path = tmp_path_factory.mktemp("encoder") / "conv1d.keras"
    encoder.save(path)
    return path


def predictor(name, sample_rate, features, make_tones, inputs_for, encoder_folder, **extra):
    """`predict(waveforms [1, samples]) -> probabilities` for family `name`, built small (and fitted if it must be)."""
    keras.utils.set_random_seed(0)  # the same random kernels every run
    hparams = {**TINY.get(name, {}), **extra}
    if name == "transfer":
        hparams["encoder"] = str(encoder_folder)
    # The speaker encoder takes 16 kHz only; fed these 8-kHz tones as 16-kHz audio it is still a test of padding.
    model = build_model(name, 2, 16000 if name.startswith("ge2e") else sample_rate, features, **hparams)
    family = get_family(name)
    if not isinstance(model, keras.Model):  # the scikit-learn baselines: fit on a few tones
        x, y = make_tones(8, 0.5)
        family.trainer(model, inputs_for(x, y), TrainingSettings(verbose=0))
        return model.predict_proba
    model = family.inference_model(model) if family.inference_model else model
    randomize(model)
    if EMBEDDING_SCALE in [layer.name for layer in model.layers]:  # a pretrained encoder's head
        x, _ = make_tones(8, 0.5)
        scale_like(model.get_layer(EMBEDDING_SCALE), model.get_layer("encoder")(x).numpy())
    # one graph for every length (an eager LSTM loop over 4 s of frames is slow)
    call = tf.function(
        lambda waveforms: model(waveforms, training=False), input_signature=[tf.TensorSpec([None, None], tf.float32)]
    )
    return lambda waveforms: call(tf.constant(waveforms)).numpy()


@pytest.mark.parametrize("name", available())
@pytest.mark.slow
def test_prediction_does_not_depend_on_the_padding(name, sample_rate, features, make_tones, inputs_for, encoder_folder):
    predict = predictor(name, sample_rate, features, make_tones, inputs_for, encoder_folder)
    short = clip(sample_rate, make_tones)
    padded = [predict(pad_to(short, seconds, sample_rate)) for seconds in PADDED_SECONDS]
    np.testing.assert_allclose(padded[0], padded[1], atol=ATOL, rtol=0, err_msg=f"{name}: 2 s vs 4 s")
    for seconds in PADDED_SECONDS:
        np.testing.assert_allclose(
            predict(pad_to(short, seconds, sample_rate, centred=True)),
            padded[0],
            atol=ATOL,
            rtol=0,
            err_msg=f"{name}: centred in {seconds} s vs trailing padding",
        )
    if name not in UNPADDED_DIFFERS:
        np.testing.assert_allclose(predict(short), padded[0], atol=ATOL, rtol=0, err_msg=f"{name}: unpadded vs 2 s")
    # the comparison has teeth: the model does tell two different clips apart
    other = pad_to(clip(sample_rate, make_tones, seed=3, label=1), PADDED_SECONDS[0], sample_rate)
    assert np.max(np.abs(predict(other) - padded[0])) > 1e-4, f"{name}: a constant model proves nothing"
    # digital silence has no signal frame: the masks fall back to every frame, and the answer stays finite
    silent = predict(np.zeros((2, 2 * sample_rate), np.float32))
    assert np.all(np.isfinite(silent)), f"{name}: {silent}"
    np.testing.assert_allclose(silent.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "name, frontend", [("conv2d", "pcen"), ("conv2d", "pcen_fixed"), ("crnn", "pcen"), ("lstm", "pcen_fixed")]
)
def test_pcen_front_end_does_not_depend_on_the_padding(
    name, frontend, sample_rate, features, make_tones, inputs_for, encoder_folder
):
    predict = predictor(name, sample_rate, features, make_tones, inputs_for, encoder_folder, frontend=frontend)
    short = clip(sample_rate, make_tones)
    padded = [predict(pad_to(short, seconds, sample_rate)) for seconds in PADDED_SECONDS]
    np.testing.assert_allclose(padded[0], padded[1], atol=ATOL, rtol=0)
    np.testing.assert_allclose(predict(pad_to(short, 4.0, sample_rate, centred=True)), padded[0], atol=ATOL, rtol=0)
    np.testing.assert_allclose(predict(short), padded[0], atol=ATOL, rtol=0)
