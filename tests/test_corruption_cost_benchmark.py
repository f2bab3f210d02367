"""benchmarks/corruption_cost.py: what each column runs, the table, and the grid comparison (no timing asserted)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.benchmark_modules import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark's columns and grid comparison

corruption_cost = load_benchmark("corruption_cost")


class CountingCorruption:
    """Counts the batches `corrupt_batch` really spoils (a NumPy call runs each time, not only when traced)."""

    def __init__(self):
        self.batches = 0
        self.seeds = []

    def corrupt_batch(self, waveforms, seeds, severity):
        def count(batch, seed_rows):
            self.batches += 1
            self.seeds.append(seed_rows[:, 0].copy())
            return batch

        out = tf.numpy_function(count, [waveforms, seeds], tf.float32)
        out.set_shape(waveforms.shape)
        return out


def test_the_batched_column_times_every_batch_it_reports():
    # Its first version spoiled batches inside a tf.data map ahead of the timer and reported 0.05 ms for an
    # MP3 round trip that costs 20: the timed runs must do the work themselves.
    corruption = CountingCorruption()
    clip = np.zeros(800, np.float32)
    corruption_cost.batched_pipeline_cost(corruption, 3, clip, clips=10, batch=4, repeats=2)
    assert corruption.batches == 3 * (1 + 2)  # ceil(10 / 4) batches, the warm-up run and 2 timed runs
    firsts = [seeds[0] for seeds in corruption.seeds]
    assert len(set(firsts)) == len(firsts)  # every batch gets new per-clip seeds, none is a cached repeat
    assert all(np.array_equal(s, s[0] + np.arange(4)) for s in corruption.seeds)


def test_rows_and_table_for_a_cheap_corruption():
    rows = corruption_cost.corruption_costs(seconds=0.25, clips=8, calls=2, repeats=1, names=["gain"], batch=4)
    assert [r["corruption"] for r in rows] == ["(log-mel)", "gain"]
    gain = rows[1]
    assert gain["reference"] == "NumPy: multiply" and gain["met"] in ("yes", "NO")
    assert gain["batched_cpu_ms"] is not None  # the batched column was measured
    table = corruption_cost.markdown(rows)
    lines = table.splitlines()
    assert lines[0].count("|") == lines[2].count("|") == lines[3].count("|")  # header and rows line up
    assert lines[3].startswith("| gain |")


def test_the_grid_comparison_reports_identical_predictions_on_both_paths():
    figures = corruption_cost.grid_cost(clips=6, seconds=0.5, names=["packet_loss"], eval_batch=4, models=("conv1d",))
    assert figures["conditions"] == 1 + 5
    assert figures["same_predictions"] is True
    assert figures["max_probability_difference"] < 1e-4
    assert set(figures["timings"]) == {"per clip", "batched"}
