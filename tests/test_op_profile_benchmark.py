"""benchmarks/op_profile.py: a traced stage's op types, shares and kernel classification (no timing asserted)."""

import math

import pytest
import tensorflow as tf

from tests.benchmark_modules import load_benchmark

op_profile = load_benchmark("op_profile")


def test_a_matrix_product_step_is_profiled_as_kernel_time():
    a = tf.random.normal([256, 256])
    product = tf.function(lambda: tf.linalg.matmul(a, a) + 1.0)
    profile = op_profile.profile("matmul", lambda: product().numpy(), steps=2)
    types = [op.op_type for op in profile.ops]
    assert any("MatMul" in t for t in types)
    assert "IDLE" not in types
    assert math.isclose(sum(op.share for op in profile.ops), 1.0, rel_tol=1e-9)
    assert profile.busy_ms > 0 and 0 < profile.kernel_share <= 1
    assert profile.kernel_share == pytest.approx(
        sum(op.share for op in profile.ops if op_profile.is_kernel(op.op_type))
    )


@pytest.mark.slow
def test_a_model_gets_a_training_and_an_inference_profile_with_its_convolutions():
    profiles = op_profile.model_profiles("conv1d", batch=2, inference_batch=2, steps=1, clip_samples=4000)
    assert [p.stage for p in profiles] == ["conv1d training (batch 2)", "conv1d inference (batch 2)"]
    training, inference = profiles
    assert any("Conv2DBackprop" in op.op_type for op in training.ops)  # the backward pass was traced
    assert any("Conv" in op.op_type for op in inference.ops)
    assert not any("Backprop" in op.op_type for op in inference.ops)
    text = op_profile.render(profiles, top=3)
    assert "## conv1d training (batch 2)" in text and "other op types" in text


def test_kernel_op_types_are_told_from_data_movement():
    assert op_profile.is_kernel("_MklNativeFusedConv2D") and op_profile.is_kernel("RFFT")
    assert not op_profile.is_kernel("Mul") and not op_profile.is_kernel("_MklNativeMaxPool")


def test_zero_steps_are_refused():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        op_profile.profile("nothing", lambda: None, steps=0)


def test_op_names_go_to_their_layer_forward_and_gradient_apart():
    layers = {"log_mel", "conv1", "conv2"}
    assert op_profile.layer_of("conv1d_1/log_mel_1/stft/rfft", layers) == "log_mel"
    assert (
        op_profile.layer_of("gradient_tape/conv1d_1/conv2_1/convolution/Conv2DBackpropInput", layers)
        == "conv2 (gradient)"
    )
    assert op_profile.layer_of("conv1d_1/conv1_1/convolution", layers) == "conv1"  # not the model's conv1d_1
    assert op_profile.layer_of("adam/Sqrt_3", layers) == "(optimizer)"
    assert op_profile.layer_of("conv1d_1/Cast", layers) == "(other)"


@pytest.mark.slow
def test_a_model_profile_by_layer_names_the_front_end_and_the_gradients():
    training, inference = op_profile.model_profiles(
        "conv1d", batch=2, inference_batch=2, steps=1, clip_samples=4000, by_layer=True
    )
    assert training.grouped_by == inference.grouped_by == "layer"
    rows = {op.op_type for op in training.ops}
    assert "log_mel" in rows and "conv0 (gradient)" in rows and "(optimizer)" in rows
    assert not any("(gradient)" in op.op_type for op in inference.ops)
    assert math.isclose(sum(op.share for op in training.ops), 1.0, rel_tol=1e-9)
    assert 0 < training.kernel_share <= 1  # still counted by op type
    text = op_profile.render([training], top=3)
    assert "| layer | ms per step | share of busy time |" in text and "other layers" in text
