"""benchmarks/op_profile.py: a traced stage's op types, shares and kernel classification (no timing asserted)."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import tensorflow as tf

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
spec = importlib.util.spec_from_file_location("benchmarks_op_profile", BENCHMARKS / "op_profile.py")
op_profile = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = op_profile  # dataclasses look their module up here
spec.loader.exec_module(op_profile)


def test_a_matrix_product_step_is_profiled_as_kernel_time():
    a = tf.random.normal([256, 256])
    product = tf.function(lambda: tf.linalg.matmul(a, a) + 1.0)
    profile = op_profile.profile("matmul", lambda: product().numpy(), steps=2)
    types = [op.op_type for op in profile.ops]
    assert any("MatMul" in t for t in types)
    assert "IDLE" not in types
    assert math.isclose(sum(op.share for op in profile.ops), 1.0, rel_tol=1e-9)
    assert profile.busy_ms > 0 and 0 < profile.kernel_share <= 1
    assert profile.kernel_share == pytest.approx(sum(op.share for op in profile.ops if op_profile.is_kernel(op.op_type)))


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
