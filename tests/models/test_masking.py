"""Padding masks and the masked reductions: exact values, the fallbacks, round trips, refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.features import num_frames
from keras_audio.handcrafted_features import MfccStatistics, TimeStatistics
from keras_audio.models.masking import (
    AlignToSignal,
    DownsampleMask,
    MaskedBatchNormalization,
    MaskedMfccStatistics,
    MaskedStandardization,
    MaskedTimePooling,
    MaskedTimeStatistics,
    MaskFrames,
    PaddingMask,
    align_to_signal,
    clamp_to_valid,
    signal_bounds,
)

HOP = 80


def test_padding_mask_marks_frames_centred_outside_the_clip():
    clip = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    x = np.concatenate([np.zeros(500, np.float32), clip, np.zeros(1500, np.float32)])[None]
    mask = PaddingMask(HOP)(x).numpy()[0]
    assert mask.shape == (num_frames(3000, HOP),)
    centres = np.arange(mask.size) * HOP
    np.testing.assert_array_equal(mask, (centres >= 500) & (centres <= 1499))


def test_interior_silence_is_signal_and_the_unpadded_clip_keeps_its_frames():
    x = np.ones((1, 1600), np.float32)
    x[0, 400:1200] = 0.0  # a dropout inside the clip, longer than any window
    mask = PaddingMask(HOP)(x).numpy()[0]
    np.testing.assert_array_equal(mask[:-1], True)  # the gap's frames (centres 400..1200) stay signal
    assert not mask[-1]  # centred at sample 1600, one past the clip's end


def test_silence_and_a_lone_click_fall_back_to_every_frame():
    click = np.zeros((1, 800), np.float32)
    click[0, 5] = 1.0  # between two frame centres: no frame of signal
    for x in (np.zeros((1, 800), np.float32), click):
        assert PaddingMask(HOP)(x).numpy().all()


def test_align_to_signal_moves_leading_zeros_to_the_end():
    x = np.array([[0, 0, 1, 2, 0, 3, 0], [4, 0, 5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(
        AlignToSignal()(x).numpy(), [[1, 2, 0, 3, 0, 0, 0], [4, 0, 5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]]
    )


def test_align_to_signal_asks_map_fn_for_parallel_iterations_only_in_a_graph(monkeypatch):
    # Eagerly, map_fn runs one example at a time and warns ("Setting parallel_iterations > 1 has no effect")
    # when asked for more; in a graph the examples run in parallel.
    asked = []

    def map_fn(*args, parallel_iterations=None, **kwargs):
        asked.append(parallel_iterations)
        return real_map_fn(*args, parallel_iterations=parallel_iterations, **kwargs)

    real_map_fn = tf.map_fn
    monkeypatch.setattr(tf, "map_fn", map_fn)
    x = np.array([[0, 0, 1, 2], [4, 0, 5, 0]], np.float32)
    eager = align_to_signal(tf.constant(x)).numpy()
    graph = tf.function(align_to_signal)(tf.constant(x)).numpy()
    np.testing.assert_array_equal(eager, [[1, 2, 0, 0], [4, 0, 5, 0]])
    np.testing.assert_array_equal(graph, eager)
    assert asked[0] in (None, 1) and asked[-1] > 1


def _bounds_by_search(x):
    nonzero = x != 0
    has = nonzero.any(axis=1)
    first = np.where(has, nonzero.argmax(axis=1), 0)
    last = np.where(has, x.shape[1] - 1 - nonzero[:, ::-1].argmax(axis=1), -1)
    return first, last, has


@pytest.mark.parametrize("samples", [1, 127, 128, 129, 1000])
def test_signal_bounds_and_alignment_match_a_search_over_every_sample(samples):
    # The bounds are found block by block (BOUNDS_BLOCK samples): bounds on, next to and inside block edges,
    # a single sample, digital silence, a row that is all signal.
    rng = np.random.default_rng(samples)
    x = np.zeros((9, samples), np.float32)
    spans = [
        (0, samples),
        (samples - 1, samples),
        (0, 1),
        (samples // 2, samples // 2 + 1),
        (min(127, samples - 1), samples),
        (0, min(129, samples)),
        (0, 0),
    ]
    for row, (start, stop) in enumerate(spans):
        x[row, start:stop] = rng.uniform(0.1, 1.0, stop - start)
    x[7, rng.integers(0, samples, 3)] = -0.5
    first, last, has = (t.numpy() for t in signal_bounds(tf.constant(x)))
    expected_first, expected_last, expected_has = _bounds_by_search(x)
    np.testing.assert_array_equal(has, expected_has)
    np.testing.assert_array_equal(first, expected_first)
    np.testing.assert_array_equal(last[has], expected_last[has])
    aligned = align_to_signal(tf.constant(x)).numpy()
    for row in range(len(x)):
        expected = np.concatenate([x[row, first[row] :], np.zeros(first[row], np.float32)])
        np.testing.assert_array_equal(aligned[row], expected)


def test_downsample_mask_matches_same_padded_max_pooling():
    mask = np.zeros((2, 11), bool)
    mask[0, :5] = True
    mask[1, 3:] = True
    for pool in (1, 2, 3):
        pooled = keras.layers.MaxPooling1D(pool, padding="same")(mask[..., None].astype(np.float32)).numpy()[..., 0]
        np.testing.assert_array_equal(DownsampleMask(pool)(mask).numpy(), pooled > 0)


def test_masked_standardization_equals_layer_norm_on_the_valid_frames_and_zeroes_the_rest():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (2, 9, 4)).astype(np.float32)
    mask = np.ones((2, 9), bool)
    mask[0, 6:] = False
    out = MaskedStandardization()([x, mask]).numpy()
    norm = keras.layers.LayerNormalization(axis=[1, 2], center=False, scale=False, epsilon=1e-3)
    np.testing.assert_allclose(out[1], norm(x[1:]).numpy()[0], atol=1e-5)
    np.testing.assert_allclose(out[0, :6], norm(x[:1, :6]).numpy()[0], atol=1e-5)
    assert np.all(out[0, 6:] == 0.0)


def test_masked_pooling_and_statistics_ignore_padded_frames():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    mask = np.ones((2, 7), bool)
    mask[0, 4:] = False
    changed = x.copy()
    changed[0, 4:] = 100.0
    for layer in (MaskedTimePooling("mean"), MaskedTimePooling("max"), MaskedTimeStatistics()):
        np.testing.assert_allclose(layer([changed, mask]).numpy(), layer([x, mask]).numpy(), atol=1e-6)
    np.testing.assert_allclose(MaskedTimePooling("mean")([x, mask]).numpy()[0], x[0, :4].mean(0), atol=1e-6)
    np.testing.assert_allclose(MaskedTimePooling("max")([x, mask]).numpy()[0], x[0, :4].max(0), atol=1e-6)
    # all valid: the unmasked layer's values
    np.testing.assert_allclose(
        MaskedTimeStatistics()([x, np.ones((2, 7), bool)]).numpy(), TimeStatistics()(x).numpy(), atol=1e-5
    )


def test_masked_mfcc_statistics_of_a_trailing_padded_log_mel_equal_the_unpadded_ones():
    log_mel = np.random.default_rng(2).standard_normal((1, 30, 16)).astype(np.float32)
    padded = np.concatenate([log_mel, np.zeros((1, 20, 16), np.float32)], axis=1)
    mask = np.arange(50)[None] < 30
    layer = MaskedMfccStatistics(8, 5)
    np.testing.assert_allclose(layer([padded, mask]).numpy(), MfccStatistics(8, 5)(log_mel).numpy(), atol=1e-5)


def test_clamp_to_valid_repeats_the_edge_frames():
    x = tf.reshape(tf.range(6, dtype=tf.float32), (1, 6, 1))
    mask = np.array([[False, True, True, True, False, False]])
    np.testing.assert_array_equal(clamp_to_valid(x, mask).numpy()[0, :, 0], [1, 1, 2, 3, 3, 3])


def test_masked_batch_norm_training_statistics_skip_padding():
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, (2, 8, 3)).astype(np.float32)
    mask = np.ones((2, 8), bool)
    mask[:, 5:] = False
    x_padded = x.copy()
    x_padded[:, 5:] = 50.0
    layer = MaskedBatchNormalization(center=False, scale=False)
    out = layer(x_padded, training=True, mask=mask).numpy()
    valid = x[:, :5]
    expected = (valid - valid.mean(axis=(0, 1))) / np.sqrt(valid.var(axis=(0, 1)) + layer.epsilon)
    np.testing.assert_allclose(out[:, :5], expected, atol=1e-4)


@pytest.mark.parametrize("affine", [True, False])
def test_fused_training_on_4d_maps_matches_keras_batch_norm(affine):
    # The fused kernel (issue 15's speed-up) must give Keras' outputs, gradients and moving statistics.
    x = tf.constant(np.random.default_rng(4).normal(2.0, 3.0, (4, 9, 6, 5)).astype(np.float32))
    fused = MaskedBatchNormalization(momentum=0.9, center=affine, scale=affine)
    plain = keras.layers.BatchNormalization(momentum=0.9, center=affine, scale=affine)
    for layer in (fused, plain):
        layer.build(x.shape)
        if affine:
            layer.gamma.assign(np.linspace(0.5, 1.5, 5).astype(np.float32))
            layer.beta.assign(np.linspace(-1.0, 1.0, 5).astype(np.float32))
    outputs, gradients = [], []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.range(5, dtype=tf.float32))
        outputs.append(y.numpy())
        gradients.append(tape.gradient(loss, x).numpy())
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)
    np.testing.assert_allclose(gradients[0], gradients[1], atol=1e-4)
    np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-5)
    # The fused kernel keeps the unbiased batch variance in its moving average (Keras the biased one).
    expected_variance = 0.9 * 1.0 + 0.1 * x.numpy().reshape(-1, 5).var(axis=0, ddof=1)
    np.testing.assert_allclose(fused.moving_variance.numpy(), expected_variance, rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 9, 6, 5), (4, 9, 5)])
def test_fused_inference_matches_keras_batch_norm(shape):
    x = tf.constant(np.random.default_rng(5).normal(2.0, 3.0, shape).astype(np.float32))
    mask = np.ones(shape[:2], bool)
    mask[:, 6:] = False
    fused = MaskedBatchNormalization(momentum=0.9)
    plain = keras.layers.BatchNormalization(momentum=0.9)
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 5).astype(np.float32))
        layer.beta.assign(np.linspace(-1.0, 1.0, 5).astype(np.float32))
        layer.moving_mean.assign(np.linspace(-2.0, 2.0, 5).astype(np.float32))
        layer.moving_variance.assign(np.linspace(0.5, 4.0, 5).astype(np.float32))
    expected = plain(x, training=False).numpy()
    np.testing.assert_allclose(fused(x, training=False, mask=mask).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(fused(x).numpy(), expected, atol=1e-5)  # training unset: inference
    frozen = MaskedBatchNormalization(momentum=0.9)
    frozen.build(x.shape)
    frozen.set_weights(fused.get_weights())
    frozen.trainable = False  # a frozen layer uses its moving statistics even in training
    np.testing.assert_allclose(frozen(x, training=True).numpy(), expected, atol=1e-5)


def test_layers_round_trip_in_a_saved_model(tmp_path):
    waveform = keras.Input((None,))
    frames = keras.Input((None, 4))
    mask = DownsampleMask(1)(PaddingMask(HOP)(AlignToSignal()(waveform)))
    x = MaskFrames(-2.0)([frames, mask])
    x = MaskedStandardization(epsilon=1e-2)([x, mask])
    x = MaskedBatchNormalization()(x, mask=mask)
    out = keras.layers.Concatenate()([MaskedTimePooling("max")([x, mask]), MaskedTimeStatistics()([x, mask])])
    model = keras.Model([waveform, frames], out)
    w = np.zeros((2, 800), np.float32)
    w[0, 100:300] = 1.0
    w[1] = 0.5
    f = np.random.default_rng(4).standard_normal((2, 11, 4)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded([w, f]), model([w, f]), atol=1e-6)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: PaddingMask(0), "hop_length"),
        (lambda: DownsampleMask(1.5), "pool_size"),
        (lambda: MaskFrames(float("nan")), "fill"),
        (lambda: MaskedStandardization(0.0), "epsilon"),
        (lambda: MaskedTimePooling("median"), "mode"),
        (lambda: MaskedMfccStatistics(8, 4), "delta_width"),
    ],
)
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_masked_layer_refuses_a_bare_tensor():
    with pytest.raises(ValueError, match="MaskedTimePooling: expects"):
        MaskedTimePooling()(np.zeros((1, 3, 2), np.float32))
