"""The pretrained families through the main job: a frozen encoder's head on cached embeddings is the model
trained on waveforms, fine-tuning moves only the encoder's top, every export credits the weights, and the
encoders refuse what they cannot take. Needs the resemblyzer and aisfx wheels (installed with --no-deps):
without them these tests fail, they do not skip."""

import gzip
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from keras_audio.models import available, build_model
from keras_audio.pretrained.ge2e import build_ge2e_encoder
from keras_audio.suite.cli import main
from keras_audio.suite.experiment import run_experiment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_run import tiny_config, write_tone_corpus  # noqa: E402

pytestmark = pytest.mark.slow  # trains heads on the pretrained encoders


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("tones")
    write_tone_corpus(root)
    return root


def _config(corpus, tmp_path, name, model, **options):
    config = tiny_config(corpus, tmp_path, name)
    config.models, config.sample_rate, config.clip_seconds, config.epochs = [model], 16000, 0.8, 2
    config.corruptions, config.severities = ["white_noise"], [3]
    config.training.model_options = {model: {"head_epochs": 2, **options}}
    return config


def _probabilities(run_dir):
    with gzip.open(run_dir / "predictions.csv.gz", "rt") as handle:
        frame = pd.read_csv(handle)
    return frame.sort_values(["corruption", "severity", "clip_id"])[[c for c in frame if c.startswith("p_")]].to_numpy()


def _metadata(run_dir):
    return json.loads(next((run_dir / "models").glob("*/metadata.json")).read_text())


@pytest.fixture(scope="module")
def cached_run(corpus, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cached")
    return run_experiment(_config(corpus, tmp_path, "cached", "ge2e"), progress=False, log=lambda line: None)


def test_registered():
    assert {"ge2e", "ge2e_finetune", "aisfx", "aisfx_finetune"} <= set(available())


def test_head_on_cached_embeddings_is_the_model_trained_on_waveforms(cached_run, corpus, tmp_path):
    uncached = run_experiment(
        _config(corpus, tmp_path, "uncached", "ge2e", cache_embeddings=False), progress=False, log=lambda line: None
    )
    assert _metadata(cached_run)["training"]["embeddings"].startswith("cached")
    assert _metadata(uncached)["training"]["embeddings"] == "computed on every batch"
    history = [json.loads((run / "history.json").read_text()) for run in (cached_run, uncached)]
    assert history[0] == history[1]
    np.testing.assert_allclose(_probabilities(cached_run), _probabilities(uncached), atol=1e-5)


def test_every_export_credits_the_pretrained_weights(cached_run):
    credit = _metadata(cached_run)["training"]["pretrained"]
    assert credit["license"] == "Apache-2.0" and credit["package"] == "resemblyzer==0.1.4"
    assert credit["sha256"].startswith("39373b86")


def test_a_waveform_policy_trains_on_waveforms(corpus, tmp_path):
    config = _config(corpus, tmp_path, "noise", "ge2e")
    config.policies, config.epochs = ["noise"], 1
    run = run_experiment(config, progress=False, log=lambda line: None)
    assert _metadata(run)["training"]["embeddings"] == "computed on every batch"


def test_fine_tuning_moves_the_top_of_the_encoder_only(corpus, tmp_path):
    config = _config(corpus, tmp_path, "tuned", "ge2e_finetune")
    config.epochs, config.learning_rate = 1, 1e-2
    run = run_experiment(config, progress=False, log=lambda line: None)
    assert _metadata(run)["training"]["encoder"].startswith("fine-tuned")
    tuned = keras.models.load_model(next((run / "models").glob("*/model.keras")), compile=False).get_layer("encoder")
    pretrained = build_ge2e_encoder()
    moved = {
        layer.name: any(
            not np.array_equal(a, b) for a, b in zip(layer.get_weights(), tuned.get_layer(layer.name).get_weights())
        )
        for layer in pretrained.layers
        if layer.weights
    }
    assert moved == {"lstm_0": False, "lstm_1": False, "lstm_2": True, "linear": True}


def test_ge2e_at_another_rate_is_one_line(corpus, tmp_path, capsys):
    code = main(
        [
            "run",
            "--corpus",
            "csv",
            "--data-dir",
            str(corpus),
            "--models",
            "ge2e",
            "--sample-rate",
            "8000",
            "--epochs",
            "1",
            "--corruptions",
            "white_noise",
            "--severities",
            "1",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "16000 Hz" in err[-1] and "--sample-rate 16000" in err[-1]


def test_aisfx_takes_a_16_khz_run(corpus, tmp_path):
    config = _config(corpus, tmp_path, "aisfx", "aisfx")
    config.epochs = 1
    run = run_experiment(config, progress=False, log=lambda line: None)
    metadata = _metadata(run)
    assert metadata["sample_rate"] == 16000
    assert metadata["training"]["pretrained"]["license"] == "CC-BY-4.0"


def test_specaugment_is_refused_for_an_encoder():
    with pytest.raises(ValueError, match="specaugment"):
        build_model("ge2e", 2, 16000, spec_augment=True)


def test_a_mirrored_strategy_trains_the_same_head(cached_run, corpus, tmp_path):
    config = _config(corpus, tmp_path, "mirrored", "ge2e")
    config.training.strategy = "mirrored"
    run = run_experiment(config, progress=False, log=lambda line: None)
    np.testing.assert_allclose(_probabilities(run), _probabilities(cached_run), atol=1e-5)


# ------------------------------------------------------------------- the suite's protocols with an encoder
class _TerminateAt(keras.callbacks.Callback):
    """Sends this process SIGTERM as epoch `epoch` begins (after `epoch` finished epochs): a kill, at a known
    point."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)


def test_a_ge2e_run_killed_in_training_then_resumed_matches_an_uninterrupted_one(
    cached_run, corpus, tmp_path, monkeypatch
):
    from keras_audio import training
    from keras_audio.suite.run_writer import SIGTERM_EXIT_CODE

    def config():  # `cached_run`'s, the uninterrupted run
        return _config(corpus, tmp_path, "resumed", "ge2e")

    standard = training.standard_callbacks
    monkeypatch.setattr(training, "standard_callbacks", lambda *a: standard(*a) + [_TerminateAt(1)])
    with pytest.raises(SystemExit) as killed:  # the run writer turns SIGTERM into exit 143
        run_experiment(config(), progress=False, log=lambda line: None)
    assert killed.value.code == SIGTERM_EXIT_CODE
    monkeypatch.undo()
    (kept,) = (tmp_path / "results").glob(".resumed.partial-*")
    checkpoints = [p.relative_to(kept).parts[2:] for p in kept.glob("checkpoints/ge2e-*/**/epoch-*")]
    assert [c[-1] for c in checkpoints] == ["epoch-0001"], checkpoints  # the head's first of 2 epochs
    log = []
    resumed = run_experiment(config(), progress=False, log=log.append, resume=True)
    assert any("resuming resumed" in line for line in log)
    assert (resumed / "metrics.json").read_bytes() == (cached_run / "metrics.json").read_bytes()
    history = [json.loads((run / "history.json").read_text()) for run in (cached_run, resumed)]
    assert history[0] == history[1] and len(next(iter(history[0].values()))["loss"]) == 2
    np.testing.assert_array_equal(_probabilities(resumed), _probabilities(cached_run))
    assert _metadata(resumed)["training"]["embeddings"].startswith("cached")


def test_held_out_corruption_families_with_ge2e(corpus, tmp_path):
    config = _config(corpus, tmp_path, "heldout", "ge2e")
    config.corruptions, config.epochs = ["white_noise", "gain"], 1  # gain: a cheap second family
    config.policies = ["suite", "suite-minus:noise"]  # two models keep it quick; no reference, so no CE
    run = run_experiment(config, progress=False, log=lambda line: None)
    heldout = json.loads((run / "metrics.json").read_text())["heldout"]
    assert heldout["families"] == {"noise": ["white_noise"]}
    (row,) = heldout["rows"]
    assert (row["model"], row["family"], row["policy"]) == ("ge2e", "noise", "suite-minus:noise")
    assert all(0 <= row[f] <= 1 for f in ("clean_held_out", "held_out", "trained_on", "clean_trained_on"))
    assert "| ge2e | noise | suite-minus:noise |" in (run / "table.md").read_text()
    # a waveform policy: both heads trained on the encoder's output for corrupted waveforms, not the cache
    for metadata in (json.loads(p.read_text()) for p in (run / "models").glob("*/metadata.json")):
        assert metadata["training"]["embeddings"] == "computed on every batch"


def test_two_corpora_train_a_ge2e_head_together(corpus, tmp_path):
    """Several training corpora: the head trains on cached embeddings, and each corpus's test split is
    reported."""
    from keras_audio.suite.config import CorpusSpec
    from keras_audio.suite.tables import read_long_table

    def config(name, **options):
        config = _config(corpus, tmp_path, name, "ge2e", **options)
        config.corpus = "csv+copy"
        config.data.corpora = [CorpusSpec("csv", str(corpus)), CorpusSpec("csv", str(corpus), name="copy")]
        return config

    cached = run_experiment(config("together"), progress=False, log=lambda line: None)
    rows = read_long_table(cached / "table.csv")
    assert {r.test_corpus for r in rows} == {"in-domain", "csv (its test split)", "copy (its test split)"}
    assert {r.n for r in rows if r.test_corpus == "in-domain"} == {16}
    assert json.loads((cached / "training.json").read_text())["manifest"]["speakers"] == 32
    assert _metadata(cached)["training"]["embeddings"].startswith("cached")
