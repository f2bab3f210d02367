"""Packet loss: exactly the stated fraction of 20-ms packets is zeroed, the rest untouched."""

import numpy as np
import pytest

from keras_audio.corruptions.packet_loss import PacketLoss


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_zeroes_the_stated_fraction_in_whole_packets(severity, suite, graph_call, helpers):
    clean = np.random.default_rng(0).uniform(0.1, 1.0, 2 * helpers.SAMPLE_RATE).astype(np.float32)  # 100 packets
    out = graph_call(suite["packet_loss"])(clean, helpers.seed(severity), severity)
    zeroed = out == 0
    assert zeroed.mean() == pytest.approx(PacketLoss.severities["fraction"][severity - 1], abs=1e-9)
    packets = zeroed.reshape(-1, 320)
    assert np.all(packets.all(axis=1) | ~packets.any(axis=1))  # whole packets only
    np.testing.assert_array_equal(out[~zeroed], clean[~zeroed])


def test_positions_depend_on_the_seed_and_partial_packets_count(suite, helpers):
    clean = np.ones(5000, np.float32)  # 15.6 packets of 320 samples
    first = suite["packet_loss"](clean, helpers.seed(1), 5).numpy()
    second = suite["packet_loss"](clean, helpers.seed(2), 5).numpy()
    assert not np.array_equal(first, second)
    assert (first == 0).mean() == pytest.approx(0.4, abs=320 / 5000)
