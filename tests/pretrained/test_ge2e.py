"""The Keras GE2E encoder against Resemblyzer's own embeddings (`golden_ge2e.npz`, made by
`make_ge2e_golden.py`), its padding invariance, its layers, and its weights against the checkpoint.

The pretrained weights are required: without Resemblyzer's checkpoint these tests fail, they do not skip.
"""

from __future__ import annotations

from pathlib import Path

import keras
import librosa
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.pretrained import ge2e, sources, torch_checkpoint

GOLDEN = Path(__file__).with_name("golden_ge2e.npz")
GOLDEN_ATOL = 1e-4
PADDING_ATOL = 1e-5


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


def clips(golden) -> list[np.ndarray]:
    return [row[:length] for row, length in zip(golden["waveforms"], golden["lengths"])]


@pytest.fixture(scope="module")
def embed(encoder):
    """The encoder as one graph for any batch and length (eager calls run the LSTM loop step by step)."""
    return compiled(encoder)


def compiled(model: keras.Model):
    function = tf.function(
        lambda waveforms: model(waveforms, training=False), input_signature=[tf.TensorSpec([None, None], tf.float32)]
    )
    return lambda waveforms: function(tf.constant(np.asarray(waveforms, np.float32))).numpy()


@pytest.mark.slow
def test_matches_resemblyzer_embeddings(embed, golden):
    for clip, expected in zip(clips(golden), golden["embeddings"]):
        np.testing.assert_allclose(embed(clip[None])[0], expected, rtol=0, atol=GOLDEN_ATOL)
    # the whole batch at once: each clip zero-padded to the longest
    np.testing.assert_allclose(embed(golden["waveforms"]), golden["embeddings"], rtol=0, atol=GOLDEN_ATOL)
    norms = np.linalg.norm(embed(golden["waveforms"]), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


@pytest.mark.slow
def test_matches_resemblyzer_partial_embeddings(encoder, golden):
    partials = keras.Model(
        encoder.input, [encoder.get_layer("unfold_partials").output, encoder.get_layer("partial_utterances").output[1]]
    )
    embeddings, valid = (x.numpy() for x in tf.function(partials)(tf.constant(golden["waveforms"])))
    np.testing.assert_array_equal(valid.sum(axis=1), golden["partial_counts"])
    np.testing.assert_allclose(embeddings[valid], golden["partial_embeddings"], rtol=0, atol=GOLDEN_ATOL)


@pytest.mark.slow
def test_zero_padding_does_not_change_the_embedding(embed, golden):
    for clip in clips(golden):
        alone = embed(clip[None])
        for extra in (1, 23777):  # total padding; leading zeros below, the rest trailing
            leadings = [0, 1, 333, 16000] if extra > 1 else [0, 1]
            batch = np.stack([np.pad(clip, (leading, extra - leading)) for leading in leadings])
            np.testing.assert_allclose(
                embed(batch),
                np.repeat(alone, len(leadings), 0),
                rtol=0,
                atol=PADDING_ATOL,
                err_msg=f"{len(clip)} samples + {extra}, leading {leadings}",
            )


def _reference_count(samples: int) -> int:
    """`VoiceEncoder.compute_partial_slices(samples, 1.3, 0.75)`'s number of slices, transcribed."""
    n_frames = int(np.ceil((samples + 1) / 160))
    step = int(np.round((16000 / 1.3) / 160))
    starts = list(range(0, max(1, n_frames - 160 + step + 1), step))
    coverage = (samples - starts[-1] * 160) / (160 * 160)
    return len(starts) - 1 if coverage < 0.75 and len(starts) > 1 else len(starts)


def test_partial_rule_follows_the_reference(golden):
    layer = ge2e.PartialUtterances()
    samples = np.arange(0, 120000, 7)
    expected = np.array([_reference_count(int(n)) for n in samples])
    np.testing.assert_array_equal(layer.count(samples), expected)
    np.testing.assert_array_equal(layer.count(tf.constant(samples, tf.int32), tf).numpy(), expected)
    np.testing.assert_array_equal(layer.count(golden["lengths"]), golden["partial_counts"])
    assert ge2e.coverage_threshold(0.75, 25600) == 19200
    assert ge2e.coverage_threshold(0.1, 3) == 1  # 0.3 samples: one needed


def test_pad_to_partials_reaches_the_last_partial():
    layer = ge2e.PadToPartials()
    for samples in (1, 9600, 25600, 32000, 52800):
        target = layer.compute_output_shape((None, samples))[1]
        count = int(layer.count(samples))
        assert target == max(samples, int(layer.end(count)))
        assert layer(np.ones((1, samples), np.float32)).shape == (1, target)
        dynamic = tf.function(layer, input_signature=[tf.TensorSpec([None, None], tf.float32)])
        assert dynamic(tf.ones((1, samples))).shape == (1, target)


def test_mel_layer_matches_librosa(golden):
    clip = clips(golden)[2]
    expected = librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=400, hop_length=160, n_mels=40).T
    mel = ge2e.MelPowerSpectrogram()(clip[None]).numpy()[0]
    assert mel.shape == expected.shape
    np.testing.assert_allclose(mel, expected, rtol=1e-4, atol=1e-4 * expected.max())


def test_volume_normalisation():
    layer = ge2e.NormalizeVolume()
    rng = np.random.default_rng(0)
    quiet, loud = 0.001 * rng.standard_normal(8000), 0.5 * rng.standard_normal(8000)
    waveforms = np.zeros((3, 10000), np.float32)
    waveforms[0, :8000], waveforms[1, :8000] = quiet, loud
    out = layer([waveforms, np.array([8000, 8000, 0], np.int32)]).numpy()
    rms = np.sqrt(np.mean(out[0, :8000].astype(np.float64) ** 2))
    assert 20 * np.log10(rms) == pytest.approx(-30.0, abs=1e-4)  # raised, over the recording's samples only
    np.testing.assert_array_equal(out[1], waveforms[1])  # louder than -30 dBFS: left alone
    np.testing.assert_array_equal(out[2], 0.0)  # digital silence: no NaN
    lowered = ge2e.NormalizeVolume(increase_only=False)([waveforms, np.array([8000, 8000, 0], np.int32)]).numpy()
    assert 20 * np.log10(np.sqrt(np.mean(lowered[1, :8000].astype(np.float64) ** 2))) == pytest.approx(-30, abs=1e-4)


def test_silence_gives_a_finite_embedding(embed):
    assert np.all(np.isfinite(embed(np.zeros((2, 20000), np.float32))))


def test_lstm_and_dense_weights_equal_the_checkpoint(encoder):
    state = torch_checkpoint.load(sources.checkpoint_path(sources.GE2E))["model_state"]
    for layer in range(ge2e.LSTM_LAYERS):
        kernel, recurrent, bias = encoder.get_layer(f"lstm_{layer}").get_weights()
        np.testing.assert_array_equal(kernel, state[f"lstm.weight_ih_l{layer}"].T)
        np.testing.assert_array_equal(recurrent, state[f"lstm.weight_hh_l{layer}"].T)
        np.testing.assert_allclose(
            bias, state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"], rtol=0, atol=0
        )
    kernel, bias = encoder.get_layer("linear").get_weights()
    np.testing.assert_array_equal(kernel, state["linear.weight"].T)
    np.testing.assert_array_equal(bias, state["linear.bias"])


def test_assign_refuses_a_wrong_checkpoint():
    model = ge2e.build_ge2e_encoder(pretrained=False)
    with pytest.raises(ValueError, match="model_state"):
        ge2e._assign_state(model, {"state_dict": {}})
    with pytest.raises(ValueError, match="lstm.weight_ih_l0"):
        ge2e._assign_state(model, {"model_state": {}})


def test_keras_file_round_trip(encoder, embed, golden, tmp_path):
    path = tmp_path / "ge2e.keras"
    encoder.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(compiled(reloaded)(golden["waveforms"]), embed(golden["waveforms"]), rtol=0, atol=1e-6)


LAYERS = {
    ge2e.SignalLength: {},
    ge2e.NormalizeVolume: {"target_dbfs": -25.0, "increase_only": False, "decrease_only": True},
    ge2e.PadToPartials: {"partial_frames": 100, "rate": 2.0, "min_coverage": 0.5},
    ge2e.PartialUtterances: {"sample_rate": 8000, "hop_length": 80, "partial_frames": 50, "rate": 2.0},
    ge2e.MelPowerSpectrogram: {
        "sample_rate": 8000,
        "n_fft": 256,
        "win_length": 200,
        "hop_length": 80,
        "n_mels": 32,
        "fmin": 20.0,
        "fmax": 3000.0,
    },
    ge2e.FoldPartials: {},
    ge2e.UnfoldPartials: {},
}


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda cls: cls.__name__)
def test_layer_config_round_trip(cls):
    layer = cls(name="probe", **LAYERS[cls])
    config = layer.get_config()
    assert {key: config[key] for key in LAYERS[cls]} == LAYERS[cls]
    assert cls.from_config(config).get_config() == config
    assert keras.saving.get_registered_object(f"keras_audio>{cls.__name__}") is cls


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (ge2e.NormalizeVolume, {"target_dbfs": 3.0}, "target_dbfs"),
        (ge2e.NormalizeVolume, {"increase_only": True, "decrease_only": True}, "both set"),
        (ge2e.PadToPartials, {"hop_length": 0}, "hop_length"),
        (ge2e.PartialUtterances, {"min_coverage": 0.0}, "min_coverage"),
        (ge2e.PartialUtterances, {"rate": 0.5}, "rate=0.5"),  # 200 frames between partials of 160
        (ge2e.PartialUtterances, {"partial_frames": 2.5}, "partial_frames"),
        (ge2e.MelPowerSpectrogram, {"n_fft": 401}, "n_fft"),
        (ge2e.MelPowerSpectrogram, {"fmax": 9000.0}, "fmax"),
    ],
)
def test_layers_refuse_bad_values(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_trainable_flags():
    model = ge2e.build_ge2e_encoder(pretrained=False)
    assert not model.trainable_weights
    ge2e.set_ge2e_trainable(model, 2)
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {"lstm_2", "linear"}
    ge2e.set_ge2e_trainable(model, 0)
    assert not model.trainable_weights
    assert len(ge2e.build_ge2e_encoder(pretrained=False, trainable=True).trainable_weights) == 3 * 3 + 2
    with pytest.raises(ValueError, match="top_layers"):
        ge2e.set_ge2e_trainable(model, 5)
    with pytest.raises(ValueError, match="pretrained"):
        ge2e.build_ge2e_encoder(pretrained="yes")
