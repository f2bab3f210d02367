"""FFT helpers: fast lengths, and convolutions that equal NumPy's."""

import numpy as np
import pytest
import tensorflow as tf

from keras_audio.corruptions.fft_ops import FAST_LENGTHS, fast_length, fft_convolve, overlap_add_convolve


def smooth(n):
    for p in (2, 3, 5, 7, 11):
        while n % p == 0:
            n //= p
    return n == 1


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 48271, 48001, 100003])
def test_fast_length_is_the_smallest_even_11_smooth_at_least_n(n):
    length = int(fast_length(n))
    assert length >= n and length % 2 == 0 and smooth(length)
    assert not any(m % 2 == 0 and smooth(m) for m in range(max(n, 2), length))


def test_table_is_sorted_and_smooth():
    assert np.all(np.diff(FAST_LENGTHS) > 0)
    assert all(smooth(int(v)) for v in FAST_LENGTHS[:200])


def test_convolutions_equal_numpy():
    rng = np.random.default_rng(0)
    signal, kernel = rng.standard_normal(1234).astype(np.float32), rng.standard_normal(77).astype(np.float32)
    full = np.convolve(signal, kernel)
    np.testing.assert_allclose(fft_convolve(tf.constant(signal), tf.constant(kernel)).numpy(), full, atol=1e-4)
    ola = overlap_add_convolve(tf.constant(signal), tf.constant(kernel), 77, 38).numpy()
    np.testing.assert_allclose(ola, full[38 : 38 + 1234], atol=1e-4)
