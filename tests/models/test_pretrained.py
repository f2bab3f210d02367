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

from keras_audio.suite.cli import main
from keras_audio.suite.experiment import run_experiment
from keras_audio.models import available, build_model
from keras_audio.pretrained.ge2e import build_ge2e_encoder

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
    config.options = {"models": {model: {"head_epochs": 2, **options}}}
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
    uncached = run_experiment(_config(corpus, tmp_path, "uncached", "ge2e", cache_embeddings=False),
                              progress=False, log=lambda line: None)
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
    moved = {layer.name: any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(),
                                                                      tuned.get_layer(layer.name).get_weights()))
             for layer in pretrained.layers if layer.weights}
    assert moved == {"lstm_0": False, "lstm_1": False, "lstm_2": True, "linear": True}


def test_ge2e_at_another_rate_is_one_line(corpus, tmp_path, capsys):
    code = main(["run", "--corpus", "csv", "--data-dir", str(corpus), "--models", "ge2e", "--sample-rate", "8000",
                 "--epochs", "1", "--corruptions", "white_noise", "--severities", "1", "--out", str(tmp_path),
                 "--no-progress"])
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
    config.options["strategy"] = "mirrored"
    run = run_experiment(config, progress=False, log=lambda line: None)
    np.testing.assert_allclose(_probabilities(run), _probabilities(cached_run), atol=1e-5)
