"""The Keras aisfx encoder against the package's own embeddings (`golden_aisfx.npz`, made by
`make_aisfx_golden.py`), its padding invariance, its front-end against librosa, its resampler against
soxr_hq, its layers, and its weights against the checkpoint.

The pretrained weights are required: without the aisfx checkpoint these tests fail, they do not skip.
"""

from __future__ import annotations

from pathlib import Path

import keras
import librosa
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.export_formats import FORMAT_ATOL
from keras_audio.pretrained import aisfx, sources, torch_checkpoint

GOLDEN = Path(__file__).with_name("golden_aisfx.npz")
GOLDEN_ATOL = 1e-4
PADDING_ATOL = 1e-5


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        golden = {key: data[key] for key in data.files}
    golden["waveforms"] = golden["waveforms"].astype(np.float32) / np.float32(32768)  # exactly the WAVs' floats
    return golden


def clips(golden) -> list[np.ndarray]:
    return [row[:length] for row, length in zip(golden["waveforms"], golden["lengths"])]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(sources.CACHE_DIR_VARIABLE, str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def encoder(cache):
    """The pretrained 44.1-kHz encoder, converting the checkpoint into a fresh cache (built once)."""
    return aisfx.build_aisfx_encoder()


@pytest.fixture(scope="module")
def encoder16(cache, encoder):
    """The 16-kHz encoder (weights from the cache `encoder` wrote)."""
    return aisfx.build_aisfx_encoder(16000, name="aisfx16")


def embed(model: keras.Model, waveforms) -> np.ndarray:
    return model(tf.constant(np.asarray(waveforms, np.float32)), training=False).numpy()


def test_matches_the_package_block_embeddings(encoder, golden):
    blocks = aisfx.aisfx_block_model(encoder)
    expected = np.split(golden["block_embeddings"], np.cumsum(golden["block_counts"])[:-1])
    for clip, reference in zip(clips(golden), expected):
        embeddings, valid = (np.asarray(x)[0] for x in blocks(tf.constant(clip[None])))
        assert valid.all() and len(valid) == len(reference)
        np.testing.assert_allclose(embeddings, reference, rtol=0, atol=GOLDEN_ATOL)
    # the whole batch at once, each clip zero-padded to the longest: the padded clips' extra blocks are invalid
    embeddings, valid = (np.asarray(x) for x in blocks(tf.constant(golden["waveforms"])))
    np.testing.assert_array_equal(valid.sum(axis=1), golden["block_counts"])
    np.testing.assert_allclose(embeddings[valid], golden["block_embeddings"], rtol=0, atol=GOLDEN_ATOL)


def test_matches_the_package_clip_embeddings(encoder, golden):
    for clip, expected in zip(clips(golden), golden["clip_embeddings"]):
        np.testing.assert_allclose(embed(encoder, clip[None])[0], expected, rtol=0, atol=GOLDEN_ATOL)
    np.testing.assert_allclose(embed(encoder, golden["waveforms"]), golden["clip_embeddings"], rtol=0, atol=GOLDEN_ATOL)


@pytest.mark.slow
def test_zero_padding_does_not_change_the_embedding(encoder, golden):
    short, _, exact, long = clips(golden)
    for clip, paddings in (
        (short, ((0, 1), (1, 0), (333, 7777), (44100, 100000))),
        (exact, ((5, 1023),)),
        (long, ((1000, 50000),)),
    ):
        alone = embed(encoder, clip[None])[0]
        for leading, trailing in paddings:
            padded = np.pad(clip, (leading, trailing))
            np.testing.assert_allclose(
                embed(encoder, padded[None])[0],
                alone,
                rtol=0,
                atol=PADDING_ATOL,
                err_msg=f"{len(clip)} samples, padding {leading} + {trailing}",
            )
    batch = np.stack([np.pad(short, (leading, 150000 - len(short) - leading)) for leading in (0, 7, 54321)])
    np.testing.assert_allclose(
        embed(encoder, batch), np.repeat(embed(encoder, short[None]), 3, 0), rtol=0, atol=PADDING_ATOL
    )


def test_digital_silence_gives_the_zero_spectrogram_embedding(encoder):
    silent = embed(encoder, np.zeros((2, 30000)))
    assert np.all(np.isfinite(silent))
    np.testing.assert_allclose(silent, np.repeat(embed(encoder, np.zeros((1, 250000))), 2, 0), rtol=0, atol=1e-6)


def _package_blocks(frames: int) -> int:
    """`preprocessing.blocking`'s number of blocks (block 100, hop 50, drop_partial_block=True), transcribed."""
    count = int(np.ceil((frames - 100) / 50 + 1))
    if (frames - 100) % 50 != 0:
        count -= 1
    return max(count, 1)


def test_block_count_is_the_package_blocking():
    assert [aisfx.block_count(frames) for frames in range(1, 500)] == [_package_blocks(f) for f in range(1, 500)]
    counted = aisfx.block_count(tf.range(1, 500)).numpy()
    np.testing.assert_array_equal(counted, [_package_blocks(f) for f in range(1, 500)])


def test_front_end_matches_librosa(golden):
    """`AisfxLogMel` is the package's `compute_spectrogram` + `spectrogram_normalize`, transposed."""
    clip = clips(golden)[1]
    y = clip / np.max(np.abs(clip))
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=44100,
        n_mels=96,
        norm=1.0,
        fmin=0.0,
        fmax=22050.0,
        htk=True,
        power=2.0,
        hop_length=1024,
        win_length=2048,
    )
    expected = (np.log10(mel * 10000.0 + 1) / aisfx.SPECTROGRAM_MAX).T
    padded = np.pad(clip, (0, 5000))[None]
    spectrogram = aisfx.AisfxLogMel()([tf.constant(padded), tf.constant([len(clip)])]).numpy()[0]
    assert spectrogram.shape == (1 + padded.shape[1] // 1024, 96)
    np.testing.assert_allclose(spectrogram[: len(expected)], expected, rtol=0, atol=2e-5)  # float32 FFTs
    np.testing.assert_array_equal(spectrogram[len(expected) :], 0.0)  # past the recording: the package's zero rows


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_resampler_matches_soxr_hq(rate):
    """Within 1e-5 of librosa's soxr_hq on tones below half the lower Nyquist rate, away from the ends (where
    soxr starts differently; higher up soxr_hq rolls off, by 1.4e-4 at 0.8 of Nyquist, where this filter is
    flat), and 55 dB SNR on white noise over the whole clip (the filters' transition bands differ)."""
    rng = np.random.default_rng(rate)
    t = np.arange(rate) / rate
    nyquist = min(rate, 44100) / 2
    tones = sum(0.2 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * nyquist * t + rng.uniform(0, 6)) for _ in range(3))
    noise = 0.5 * rng.uniform(-1, 1, rate)
    layer = aisfx.PolyphaseResample(rate, 44100)
    for name, signal in (("tones", tones), ("noise", noise)):
        signal = signal.astype(np.float32)
        expected = librosa.resample(signal, orig_sr=rate, target_sr=44100, res_type="soxr_hq")
        resampled = layer(tf.constant(signal[None])).numpy()[0]
        assert resampled.shape == expected.shape
        error = resampled - expected
        if name == "noise":
            assert 10 * np.log10(np.sum(expected**2) / np.sum(error**2)) > 55
        else:
            np.testing.assert_allclose(resampled[300:-300], expected[300:-300], rtol=0, atol=1e-5)


def test_resampled_input_lands_near_the_soxr_path(encoder, encoder16, golden):
    """16 kHz in, through the graph's resampler, vs the same audio resampled by soxr_hq into the 44.1-kHz
    encoder (the package's own path for a 16-kHz file)."""
    clip = librosa.resample(clips(golden)[0], orig_sr=44100, target_sr=16000, res_type="soxr_hq")
    via_soxr = librosa.resample(clip, orig_sr=16000, target_sr=44100, res_type="soxr_hq")
    ours, theirs = embed(encoder16, clip[None])[0], embed(encoder, via_soxr[None])[0]
    assert np.max(np.abs(ours - theirs)) < 0.01 * np.max(np.abs(theirs))  # measured: 0.3 %
    # and padding-invariant at 16 kHz too (the resampler's tail past the recording is cut)
    for leading, trailing in ((0, 3), (17, 16000)):
        np.testing.assert_allclose(
            embed(encoder16, np.pad(clip, (leading, trailing))[None])[0], ours, rtol=0, atol=PADDING_ATOL
        )


@pytest.mark.slow
def test_keras_file_round_trip(encoder16, tmp_path):
    path = tmp_path / "aisfx.keras"
    encoder16.save(path)
    reloaded = keras.models.load_model(path)
    clip = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 12000)).astype(np.float32)
    clip[1, 9000:] = 0
    np.testing.assert_allclose(embed(reloaded, clip), embed(encoder16, clip), rtol=0, atol=1e-6)


def padded_tones(rate: int = 16000, seconds: float = 0.8, count: int = 8) -> np.ndarray:
    """Tones of 0.5 to 0.8 s, each centred in `seconds` of zeros (leading and trailing zeros, different lengths),
    as the trainer's probe clips are."""
    rng = np.random.default_rng(3)
    samples = int(rate * seconds)
    waveforms = np.zeros((count, samples), np.float32)
    for row, (frequency, length) in enumerate(
        zip(rng.uniform(200, 3000, count), rng.integers(rate // 2, samples - 200, count))
    ):
        start = (samples - length) // 2
        waveforms[row, start : start + length] = 0.5 * np.sin(2 * np.pi * frequency * np.arange(length) / rate)
    return waveforms


@pytest.mark.slow
def test_nested_encoder_answers_alike_eager_traced_and_saved(encoder, tmp_path):
    """The encoder nested in an outer functional model, as the pretrained families build it: the same
    embeddings eagerly, traced with an unknown batch and length (as the SavedModel export traces it), and
    reloaded from a SavedModel, on clips with leading and trailing zeros; its input's name does not clash
    with the outer model's."""
    from keras_audio.models.frontend import waveform_input

    nested = aisfx.build_aisfx_encoder(16000, name="encoder")  # weights from the cache `encoder` wrote
    waveform = waveform_input()
    assert nested.input.name == "encoder_waveform" != waveform.name
    outer = keras.Model(waveform, nested(waveform, training=False), name="outer")
    # both inputs in one graph: with the encoder's input also named "waveform", Keras refused it ("The name
    # 'waveform' is used 2 times"), as it did a model cut at `encoder.output` from the outer input
    keras.Model([outer.input, nested.input], [outer.output, nested.output])
    waveforms = padded_tones()
    assert (waveforms[:, 0] == 0).all() and (waveforms[:, -1] == 0).all()

    eager = embed(outer, waveforms)
    np.testing.assert_array_equal(eager, embed(nested, waveforms))
    signature = [tf.TensorSpec([None, None], tf.float32)]
    traced = tf.function(lambda x: outer(x, training=False), input_signature=signature)
    module = tf.Module()
    module.outer = outer
    module.serve = traced
    tf.saved_model.save(module, str(tmp_path / "saved_model"))
    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    # float32 kernels differ in summation order between eager execution and an optimised graph (~5e-6 here)
    for other in (traced(tf.constant(waveforms)), reloaded.serve(tf.constant(waveforms))):
        np.testing.assert_allclose(other.numpy(), eager, rtol=0, atol=FORMAT_ATOL)
    # and padding-invariant there too: the clips unpadded, one at a time
    for row, clip in zip(eager, waveforms):
        signal = np.flatnonzero(clip)
        unpadded = clip[signal[0] : signal[-1] + 1][None]
        np.testing.assert_allclose(reloaded.serve(tf.constant(unpadded)).numpy()[0], row, rtol=0, atol=FORMAT_ATOL)


LAYERS = [
    aisfx.PolyphaseResample(22050, 44100, zero_crossings=32, rolloff=0.9, kaiser_beta=8.0),
    aisfx.RecordingLength(16000, 44100),
    aisfx.AisfxLogMel(n_mels=64, fmax=16000.0),
    aisfx.SpectrogramBlocks(60, 20),
    aisfx.ValidBlocks(60, 20, 512),
    aisfx.UnfoldBlocks(),
    aisfx.MaskedBlockMean(),
    aisfx.InferenceBatchNormalization(epsilon=1e-5),
    aisfx.FrequencyMeanTimeMax(),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    assert keras.saving.get_registered_object(f"keras_audio>{type(layer).__name__}") is type(layer)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: aisfx.PolyphaseResample(0, 44100), "source_rate"),
        (lambda: aisfx.PolyphaseResample(16000, 44100, rolloff=1.5), "rolloff"),
        (lambda: aisfx.PolyphaseResample(16000, 44100, zero_crossings=0), "zero_crossings"),
        (lambda: aisfx.PolyphaseResample(16000, 44100, kaiser_beta=-1.0), "kaiser_beta"),
        (lambda: aisfx.PolyphaseResample(44099, 44100), "44099 Hz"),
        (lambda: aisfx.RecordingLength(16000, -1), "target_rate"),
        (lambda: aisfx.AisfxLogMel(hop_length=0), "hop_length"),
        (lambda: aisfx.AisfxLogMel(fmax=30000.0), "fmax"),
        (lambda: aisfx.AisfxLogMel(spectrogram_max=0.0), "spectrogram_max"),
        (lambda: aisfx.SpectrogramBlocks(100, 30), "multiple"),
        (lambda: aisfx.ValidBlocks(100, 50, hop_length=2.5), "hop_length"),
        (lambda: aisfx.build_aisfx_encoder(0, pretrained=False), "sample_rate"),
    ],
)
def test_bad_settings_raise_value_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_set_aisfx_trainable_unfreezes_the_top_blocks_only(encoder16):
    def trainable_names():
        return sorted(variable.path for variable in encoder16.trainable_weights)

    cnn = encoder16.get_layer(aisfx.CNN_NAME)
    before = {variable.path: variable.numpy() for variable in cnn.weights}
    try:
        assert encoder16.trainable_weights == []  # frozen by default
        aisfx.set_aisfx_trainable(encoder16, 1)
        assert trainable_names() == sorted(
            f"block4_{layer}/{name}"
            for layer, name in (
                ("conv1", "kernel"),
                ("conv2", "kernel"),
                ("bn1", "gamma"),
                ("bn1", "beta"),
                ("bn2", "gamma"),
                ("bn2", "beta"),
            )
        )
        # one training step moves those weights only; batch norm keeps its statistics (inference mode)
        clip = tf.constant(np.random.default_rng(2).uniform(-0.5, 0.5, (1, 8000)).astype(np.float32))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(encoder16(clip, training=True))
        gradients = tape.gradient(loss, encoder16.trainable_weights)
        keras.optimizers.SGD(1e-3).apply_gradients(zip(gradients, encoder16.trainable_weights))
        moved = sorted(
            variable.path for variable in cnn.weights if not np.array_equal(variable.numpy(), before[variable.path])
        )
        assert moved == trainable_names()
        aisfx.set_aisfx_trainable(encoder16, 4)
        assert len(encoder16.trainable_weights) == 4 * 6
        np.testing.assert_array_equal(encoder16(clip, training=True).numpy(), embed(encoder16, clip))
        for bad in (-1, 5, True, 1.0):
            with pytest.raises(ValueError, match="top_blocks"):
                aisfx.set_aisfx_trainable(encoder16, bad)
    finally:
        aisfx.set_aisfx_trainable(encoder16, 0)
        for variable in cnn.weights:  # the checkpoint's weights again, for the tests after this one
            variable.assign(before[variable.path])
    assert encoder16.trainable_weights == []


def test_weights_are_the_checkpoint_and_are_cached(encoder, encoder16):
    state, _ = torch_checkpoint.load(sources.checkpoint_path(sources.AISFX))
    cnn = encoder.get_layer(aisfx.CNN_NAME)
    np.testing.assert_array_equal(
        cnn.get_layer("block3_conv2").kernel.numpy(),
        state["embedding_net.conv_block3.conv2.weight"].transpose(2, 3, 1, 0),
    )
    np.testing.assert_array_equal(
        cnn.get_layer("block1_bn2").moving_variance.numpy(), state["embedding_net.conv_block1.bn2.running_var"]
    )
    # the 16-kHz encoder's CNN, loaded from the cache file, holds the same weights
    for ours, cached in zip(cnn.weights, encoder16.get_layer(aisfx.CNN_NAME).weights):
        np.testing.assert_array_equal(ours.numpy(), cached.numpy())
