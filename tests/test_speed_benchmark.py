"""benchmarks/speed.py on tiny sizes: every stage runs and reports what it says; no timing is asserted.

Also checks that the three feature paths it compares compute the same log-mel (so the comparison is fair),
that a stage runs in its own process and reports its memory, and that ratios and targets are computed
from the figures.
"""

import json

import numpy as np
import pytest

from tests.benchmark_modules import load_benchmark

SR = 16000

speed = load_benchmark("speed")  # puts benchmarks/ on sys.path, for its own `import homework_baseline`
homework_baseline = load_benchmark("homework_baseline")


def _voices(n, seconds, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    rows = []
    for _ in range(n):
        f0 = rng.uniform(100, 250)
        voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
        rows.append(0.1 * voice * np.hanning(len(t)) + 0.003 * rng.standard_normal(len(t)))
    return np.array(rows, np.float32)


def _clips(n=8, seconds=0.5):
    return speed.Clips(_voices(n, seconds), (np.arange(n) % 2).astype(np.int32), ("female", "male"))


def _settings(**overrides):
    values = dict(
        speed.QUICK,
        clips=8,
        seconds=0.5,
        batch_size=2,
        train_steps=1,
        train_epochs=1,
        latency_calls=3,
        throughput_batch=3,
        paired_rounds=1,
        paired_chunk=2,
    )
    values.update(overrides)
    return speed.SpeedSettings(**values).validate()


@pytest.mark.slow
def test_homework_librosa_and_suite_compute_the_same_log_mel():
    import librosa

    from keras_audio.features import LogMelSpectrogram

    settings = _settings()
    f = settings.features
    clip = _voices(1, 1.0)[0]
    homework = homework_baseline.HomeworkMel(SR, f.n_fft, f.win_length, f.hop_length, f.n_mels, f.fmin, f.fmax)
    homework_db = librosa.power_to_db(homework(clip), top_db=f.top_db)
    librosa_db = homework_baseline.librosa_features(
        [clip], SR, f.n_fft, f.win_length, f.hop_length, f.n_mels, f.fmin, f.fmax, f.top_db
    )[0]
    layer = LogMelSpectrogram(
        sample_rate=SR,
        n_fft=f.n_fft,
        win_length=f.win_length,
        hop_length=f.hop_length,
        n_mels=f.n_mels,
        fmin=f.fmin,
        fmax=f.fmax,
        top_db=f.top_db,
    )
    suite_db = layer(clip[None])[0].numpy().T
    assert homework_db.shape == librosa_db.shape == suite_db.shape == (f.n_mels, 1 + len(clip) // f.hop_length)
    assert np.max(np.abs(homework_db - librosa_db)) < 0.01
    assert np.max(np.abs(suite_db - librosa_db)) < 0.1


def test_homework_loop_returns_one_power_mel_per_clip():
    clips = _voices(3, 0.25)
    out = homework_baseline.HomeworkMel().features(clips)
    assert len(out) == 3 and all(m.shape == (64, 26) and np.all(m >= 0) for m in out)


def test_fit_to_length_matches_the_pipelines_centre_crop():
    from keras_audio.pipeline import center_crop_or_pad

    x = np.arange(11, dtype=np.float32)
    for length in (4, 11, 16):
        np.testing.assert_array_equal(speed.fit_to_length(x, length), center_crop_or_pad(x, length).numpy())


@pytest.mark.slow
def test_feature_dataset_gives_the_log_mel_of_each_batch_and_noise_changes_it():
    clips, settings = _clips(), _settings()
    clean_features, labels = next(iter(speed.feature_dataset(clips, settings, "none")))
    frames = 1 + settings.clip_samples // settings.features.hop_length
    assert clean_features.shape == (settings.batch_size, frames, settings.features.n_mels)
    assert set(labels.numpy()) <= {0, 1}
    noisy_features, _ = next(iter(speed.feature_dataset(clips, settings, "noise")))
    # Same stream seed, so the same clips and crops: only the noise differs.
    assert np.max(np.abs(noisy_features.numpy() - clean_features.numpy())) > 1.0
    with pytest.raises(ValueError, match="policy"):
        speed.feature_dataset(clips, settings, "loud")


@pytest.mark.parametrize("stage", ["homework", "librosa", "tfdata", "tfdata_noise"])
def test_feature_stages_report_one_positive_rate_per_pass(stage):
    settings = _settings(passes=2)
    (figure,) = speed.measure_stage(stage, _clips(), settings)
    assert figure.stage == stage and figure.unit == "clips/s"
    assert len(figure.samples) == len(figure.cpu_samples) == 2
    assert all(rate > 0 for rate in figure.samples)


@pytest.mark.parametrize("feed", ["memory", "pipeline"])
@pytest.mark.slow
def test_training_stage_times_every_epoch_after_the_warm_up(feed):
    settings = _settings(train_epochs=2)
    (figure,) = speed.measure_stage(f"train_conv1d_{feed}", _clips(), settings)
    assert figure.unit == "examples/s" and len(figure.samples) == 2 and min(figure.samples) > 0


@pytest.mark.slow
def test_savedmodel_stage_reports_latency_per_call_and_batch_throughput():
    settings = _settings()
    latency, throughput = speed.measure_stage("savedmodel_conv1d", _clips(), settings)
    assert latency.unit == "ms" and len(latency.samples) == settings.latency_calls and min(latency.samples) > 0
    assert throughput.stage == "savedmodel_conv1d_batch" and len(throughput.samples) == settings.throughput_calls


@pytest.mark.slow
def test_a_stage_runs_in_its_own_process_and_reports_its_memory(tmp_path):
    settings = _settings()
    clips = _clips()
    (tmp_path / "settings.json").write_text(settings.to_json())
    np.save(tmp_path / "waveforms.npy", clips.waveforms)
    np.save(tmp_path / "labels.npy", clips.labels)
    (tmp_path / "clips.json").write_text(json.dumps({"classes": list(clips.classes)}))
    result = speed.run_stage_process("homework", tmp_path, timeout=120)
    assert result["stage"] == "homework" and len(result["figures"][0]["samples"]) == settings.passes
    assert result["peak_rss_mb"] >= result["rss_start_mb"] > 0


def test_failing_stage_process_raises_with_its_error(tmp_path):
    (tmp_path / "settings.json").write_text(_settings().to_json())
    with pytest.raises(RuntimeError, match=r"(?s)stage 'homework' failed.*waveforms\.npy"):
        speed.run_stage_process("homework", tmp_path, timeout=120)  # no clips prepared


def _summary(stage, samples, unit="clips/s"):
    return speed.StageSummary(stage, [speed.Figure(stage, stage, unit, list(samples))], 1.0, 2.0, [0.5])


def test_ratios_and_targets_come_from_the_figures():
    summaries = {
        s.stage: s
        for s in (
            _summary("homework", [100.0]),
            _summary("librosa", [50.0]),
            _summary("tfdata", [450.0]),
            _summary("tfdata_noise", [200.0]),
            _summary("train_conv1d_memory", [10.0]),
            _summary("train_conv1d_pipeline", [7.0]),
        )
    }
    figures = speed.all_figures(summaries)
    assert speed.ratio_text(figures["tfdata"], figures) == "4.50x homework; 9.00x librosa"
    assert speed.ratio_text(figures["train_conv1d_pipeline"], figures) == "0.70x in-memory"
    checks = {c["target"]: c["met"] for c in speed.target_checks(figures)}
    assert checks == {
        "tf.data log-mel >= 8x the librosa loop": True,
        "tf.data log-mel >= 3x the homework's numpy loop": True,
        "tf.data log-mel with white noise >= 5x the librosa loop": False,  # 4x
        "conv1d: on-the-fly training within 1.3x of in-memory": False,  # 1 / 0.7 = 1.43x slower
    }
    info = {"machine": speed.machine(), "clips": "8 clips", "repeats": 1, "loads": [0.5], "raw": []}
    report = speed.render(summaries, _settings(), info)
    assert "| tfdata | tfdata | 450 | clips/s | 4.50x homework; 9.00x librosa |" in report
    assert "| tf.data log-mel with white noise >= 5x the librosa loop | 5.00x | 4.00x | NO |" in report


def test_targets_prefer_same_round_ratios_of_the_interleaved_stage():
    # Load halves every rate in round 2: the medians of separate figures would mix rounds, same-round
    # ratios do not. Separate-process figures disagree on purpose; the interleaved ones win.
    paired = speed.PAIRED_STAGE
    summaries = {
        s.stage: s
        for s in (
            _summary("homework", [100.0]),
            _summary("tfdata", [100.0]),
            _summary(f"{paired}:homework", [100.0, 50.0, 100.0]),
            _summary(f"{paired}:tfdata", [400.0, 200.0, 300.0]),
        )
    }
    figures = speed.all_figures(summaries)
    assert speed.paired_ratio(figures, "tfdata", "homework") == 4.0
    (check,) = speed.target_checks(figures)
    assert check["ratio"] == 4.0 and check["met"] and check["source"].startswith("interleaved")
    assert speed.ratio_text(figures[f"{paired}:tfdata"], figures) == "4.00x homework (same-round medians)"


@pytest.mark.slow
def test_interleaved_stage_gives_one_sample_per_round_for_each_method():
    settings = _settings(paired_rounds=3, paired_chunk=4)
    figures = speed.measure_stage(speed.PAIRED_STAGE, _clips(), settings)
    assert [f.stage.split(":")[1] for f in figures] == list(speed.PAIRED_METHODS)
    assert all(len(f.samples) == 3 and min(f.samples) > 0 for f in figures)


def test_stage_selection_and_settings_are_checked():
    assert speed.select_stages(["features", "savedmodel_conv2d"]) == [
        *speed.FEATURE_STAGES,
        speed.PAIRED_STAGE,
        "savedmodel_conv2d",
    ]
    with pytest.raises(ValueError, match="warp"):
        speed.select_stages(["warp"])
    with pytest.raises(ValueError, match="clips"):
        speed.SpeedSettings(clips=100, batch_size=32, train_steps=20, train_epochs=3).validate()
    speed.SpeedSettings(clips=100, batch_size=32, train_steps=20, train_epochs=3).validate(training=False)
    round_trip = speed.SpeedSettings.from_json(_settings().to_json())
    assert round_trip == _settings()


# ------------------------------------------------------------------ issue 15: fractions of the matmul rate
@pytest.mark.slow
def test_flop_counts_cover_every_model_with_one_feature_cost():
    settings = _settings(seconds=0.25)
    flops = speed.count_flops(settings, num_classes=2)
    assert flops["clip_samples"] == settings.clip_samples and set(flops["models"]) == set(speed.MODELS)
    for name, counts in flops["models"].items():
        assert counts["features"] == flops["features"] > 0
        assert counts["forward"] > counts["features"], name
        assert counts["training"] == counts["features"] + 3 * (counts["forward"] - counts["features"])
    assert flops["models"]["crnn"]["recurrent"] > 0 == flops["models"]["conv2d"]["recurrent"]


def test_matmul_stage_reports_gflops_per_timing():
    (figure,) = speed.measure_stage(speed.MATMUL_STAGE, None, _settings(matmul_size=64, matmul_seconds=0.05))
    assert figure.unit == "GFLOP/s" and len(figure.samples) == 5 and min(figure.samples) > 0
    assert figure.gflops == figure.value


@pytest.mark.slow
def test_evaluation_stage_runs_every_model_and_the_spoiled_grid_with_their_flops(monkeypatch):
    from keras_audio.corruptions import registry

    # One corruption instead of the whole suite: the grid is clean + white noise at one severity.
    monkeypatch.setattr(
        speed,
        "corruption_suite",
        lambda settings, clips: {"white_noise": registry.build("white_noise", settings.sample_rate)},
    )
    settings = _settings(eval_models=("conv1d", "conv2d"), eval_clips=4, eval_batch=3, eval_passes=2)
    flops = {"models": {"conv1d": {"forward": 10.0, "training": 25.0}, "conv2d": {"forward": 30.0}}}
    figures = {f.stage: f for f in speed.measure_stage(speed.EVALUATION_STAGE, _clips(), settings, flops)}
    stage = speed.EVALUATION_STAGE
    assert list(figures) == [f"{stage}:conv1d", f"{stage}:conv2d", f"{stage}:all", f"{stage}:spoiled"]
    assert [figures[f"{stage}:{k}"].flops_per_item for k in ("conv1d", "conv2d", "all", "spoiled")] == [10, 30, 40, 40]
    assert all(len(figures[f"{stage}:{k}"].samples) == 2 for k in ("conv1d", "conv2d", "all"))
    spoiled = figures[f"{stage}:spoiled"]
    assert spoiled.unit == "clip-conditions/s" and "2 conditions x 2 models" in spoiled.name
    assert len(spoiled.samples) == 1 and spoiled.samples[0] > 0


def test_fraction_of_matmul_comes_from_the_flops_and_the_matmul_figure():
    def summary(stage, samples, unit, flops=None):
        return speed.StageSummary(stage, [speed.Figure(stage, stage, unit, list(samples), [], flops)], 1.0, 2.0, [0.5])

    summaries = {
        s.stage: s
        for s in (
            summary(speed.MATMUL_STAGE, [90.0, 100.0, 110.0], "GFLOP/s"),
            summary("train_conv2d_memory", [300.0], "examples/s", 0.25e9),
            summary("train_conv2d_pipeline", [200.0], "examples/s", 0.25e9),  # 50 GFLOP/s: half of matmul
            summary("train_crnn_pipeline", [100.0], "examples/s", 0.2e9),  # 20 GFLOP/s
            summary("homework", [100.0], "clips/s"),
        )
    }  # no FLOPs: no fraction
    figures = speed.all_figures(summaries)
    assert speed.matmul_fraction(figures["train_conv2d_pipeline"], figures) == 0.5
    assert speed.matmul_fraction(figures["homework"], figures) is None
    assert speed.matmul_fraction(figures[speed.MATMUL_STAGE], figures) is None
    checks = {c["target"]: (c["fraction"], c["met"]) for c in speed.fraction_checks(figures)}
    assert checks == {
        "conv2d training on the pipeline >= 50 % of matmul": (0.5, True),
        "crnn training on the pipeline >= 50 % of matmul": (0.2, False),
    }
    info = {
        "machine": speed.machine(),
        "clips": "8 clips",
        "repeats": 1,
        "loads": [0.5],
        "raw": [],
        "flops": {
            "clip_samples": 8000,
            "models": {
                "conv2d": {
                    "profiler": 87e6,
                    "forward": 89e6,
                    "features": 9e6,
                    "fft": 2e6,
                    "recurrent": 0.0,
                    "training": 249e6,
                }
            },
        },
    }
    report = speed.render(summaries, _settings(), info)
    assert (
        "| train_conv2d_pipeline | train_conv2d_pipeline | 200 | examples/s | 0.67x in-memory | 50.0 | 50 % |" in report
    )
    assert "| crnn training on the pipeline >= 50 % of matmul | 50 % | 20 % | NO |" in report
    assert "| conv2d | 0.0870 | 0.0890 | 0.0090 | 0.0020 | 0.0000 | 0.2490 |" in report


def test_evaluation_settings_are_checked():
    with pytest.raises(ValueError, match="eval_severities"):
        _settings(eval_severities=(6,))
    with pytest.raises(ValueError, match="eval_models"):
        _settings(eval_models=("vgg",))
    assert speed.select_stages(["machine", "evaluation"]) == [speed.MATMUL_STAGE, speed.EVALUATION_STAGE]


# ----------------------------------------------------------------------- the pretrained encoders (ge2e, aisfx)
def _resemblyzer_partials(samples, sample_rate=16000, hop=160, partial_frames=160, rate=1.3, min_coverage=0.75):
    """How many partial utterances Resemblyzer's `compute_partial_slices` cuts a recording into."""
    frames = int(np.ceil((samples + 1) / hop))
    step = int(np.round(sample_rate / rate / hop))
    starts = range(0, max(1, frames - partial_frames + step + 1), step)
    coverage = (samples - starts[-1] * hop) / (partial_frames * hop)
    return len(starts) - int(coverage < min_coverage and len(starts) > 1)


@pytest.mark.slow
def test_encoder_flops_per_clip_follow_their_architecture():
    from keras_audio.models import build_model
    from keras_audio.pretrained import aisfx

    throughput = load_benchmark("throughput")
    settings = _settings(seconds=speed.SpeedSettings().seconds, eval_models=("conv1d", *speed.ENCODERS))
    samples = settings.clip_samples  # 3 s at 16 kHz: 3 partial utterances
    flops = speed.count_flops(settings, num_classes=2)
    assert list(flops["models"]) == [*speed.MODELS, *speed.ENCODERS]
    assert flops["features"] == flops["models"]["conv1d"]["features"]  # the encoders' own front-ends left out

    # GE2E: per partial, 160 steps of 3 LSTM layers of 256 (40 mels into the first): products and gate arithmetic.
    partials = _resemblyzer_partials(samples)
    assert partials == 3
    lstm = sum(2 * 4 * 256 * (inputs + 256) + 6 * 4 * 256 for inputs in (40, 256, 256))
    ge2e = flops["models"]["ge2e"]
    assert ge2e["recurrent"] == partials * 160 * lstm
    model = build_model("ge2e", 2, SR, settings.features)  # the LSTMs sit in the nested encoder model
    shapes = [shape for _, shape in throughput.recurrent_inputs(model, np.zeros((1, samples), np.float32))]
    assert shapes == [(partials, 160, 40), (partials, 160, 256), (partials, 160, 256)]
    # Outside the LSTMs: the STFT as a product with a 400 x 402 DFT basis and the 40-band mel product, on the
    # waveform padded to the last partial's end (partials start every 77 frames of 160 samples); the dense 256
    # per partial.
    padded = 160 * (77 * (partials - 1) + 160)
    frames = 1 + padded // 160
    rest = 2 * frames * 400 * 402 + 2 * frames * 402 * 40 + 2 * partials * 256 * 256
    assert ge2e["forward"] - ge2e["recurrent"] == pytest.approx(rest, rel=0.01)
    assert ge2e["features"] is None and ge2e["training"] is None

    # AISFX: resampled to 44.1 kHz (one product per 160 input samples), an RFFT STFT (n_fft 2048, hop 1024), 96
    # mels, then the 9-layer CNN on each 100-frame block (hop 50; at least one block).
    matrix, step, _, _ = aisfx.resampling_plan(16000, 44100)
    resample = 2 * -(-samples // step) * matrix.shape[0] * matrix.shape[1]
    stft_frames = 1 + -(-samples * 441 // 160) // 1024
    blocks = max(1, (stft_frames - 100) // 50 + 1)
    conv, height, width, inputs = 0, 100, 96, 1
    for block, channels in enumerate((64, 128, 256, 512)):
        conv += 2 * height * width * channels * 9 * (inputs + channels)  # two 3x3 convolutions, no bias
        height, width, inputs = (height // 2, width // 2, channels) if block < 3 else (height, width, channels)
    counts = flops["models"]["aisfx"]
    assert counts["recurrent"] == 0 and counts["fft"] == stft_frames * 2.5 * 2048 * 11
    expected = resample + 2 * stft_frames * 1025 * 96 + blocks * conv
    assert counts["forward"] - counts["fft"] == pytest.approx(expected, rel=0.01)


@pytest.mark.slow
def test_evaluation_stage_runs_the_encoders_named_with_their_flops(monkeypatch):
    from keras_audio.corruptions import registry

    monkeypatch.setattr(
        speed,
        "corruption_suite",
        lambda settings, clips: {"white_noise": registry.build("white_noise", settings.sample_rate)},
    )
    settings = _settings(eval_models=speed.ENCODERS, eval_clips=3, eval_batch=2, eval_passes=2)
    flops = {"models": {"ge2e": {"forward": 1.4e9}, "aisfx": {"forward": 4.0e9}}}
    figures = {f.stage: f for f in speed.measure_stage(speed.EVALUATION_STAGE, _clips(), settings, flops)}
    stage = speed.EVALUATION_STAGE
    assert list(figures) == [f"{stage}:ge2e", f"{stage}:aisfx", f"{stage}:all", f"{stage}:spoiled"]
    assert [figures[f"{stage}:{k}"].flops_per_item for k in ("ge2e", "aisfx", "all")] == [1.4e9, 4.0e9, 5.4e9]
    assert all(
        figures[f"{stage}:{k}"].unit == "clips/s" and len(figures[f"{stage}:{k}"].samples) == 2
        for k in ("ge2e", "aisfx", "all")
    )
    assert "2 conditions x 2 models" in figures[f"{stage}:spoiled"].name


def test_encoders_are_chosen_on_the_command_line_and_reported_against_matmul():
    args = speed.parse_args(["--quick", "--stages", "machine", "evaluation", "--eval-models", "ge2e", "aisfx"])
    settings = speed.settings_from_args(args).validate(training=False)
    assert settings.eval_models == ("ge2e", "aisfx")
    assert speed.select_stages(args.stages) == [speed.MATMUL_STAGE, speed.EVALUATION_STAGE]
    assert speed.SpeedSettings.from_json(settings.to_json()) == settings

    def summary(stage, samples, unit, flops=None):
        return speed.StageSummary(stage, [speed.Figure(stage, stage, unit, list(samples), [], flops)], 1.0, 2.0, [0.5])

    stage = speed.EVALUATION_STAGE
    summaries = {
        s.stage: s
        for s in (
            summary(speed.MATMUL_STAGE, [100.0], "GFLOP/s"),
            summary(f"{stage}:ge2e", [10.0], "clips/s", 1.5e9),
            summary(f"{stage}:aisfx", [5.0], "clips/s", 4.0e9),
        )
    }
    info = {
        "machine": speed.machine(),
        "clips": "8 clips",
        "repeats": 1,
        "loads": [0.5],
        "raw": [],
        "flops": {
            "clip_samples": 48000,
            "models": {
                "ge2e": {
                    "profiler": 0.1e9,
                    "forward": 1.5e9,
                    "features": None,
                    "fft": 0.0,
                    "recurrent": 1.3e9,
                    "training": None,
                }
            },
        },
    }
    report = speed.render(summaries, settings, info)
    assert f"| {stage}:ge2e | {stage}:ge2e | 10.0 | clips/s |  | 15.0 | 15 % |" in report
    assert f"| {stage}:aisfx | {stage}:aisfx | 5 | clips/s |  | 20.0 | 20 % |" in report
    assert "| ge2e | 0.1000 | 1.5000 |  | 0.0000 | 1.3000 |  |" in report
