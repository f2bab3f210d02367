"""The model card (`model_card.model_card`): generated from an export's metadata alone, written with every export."""

import keras

from keras_audio.config import FeatureConfig
from keras_audio.export import export_model
from keras_audio.model_card import MODEL_CARD_FILE, REAL_VOICES_PAGE, model_card
from keras_audio.models import build_model

RUN_METADATA = {
    "class_names": ["female", "male"],
    "sample_rate": 16000,
    "clip_samples": 32000,
    "min_samples": 400,
    "model": "ge2e",
    "policy": "none",
    "seed": 0,
    "fold": "",
    "corpus": "synthetic",
    "task": "gender",
    "training": {
        "encoder": "frozen",
        "pretrained": {
            "name": "ge2e",
            "package": "resemblyzer==0.1.4",
            "license": "Apache-2.0",
            "authors": "Corentin Jemine (Resemblyzer)",
            "reference": "Wan et al., ICASSP 2018",
        },
    },
}


def test_the_card_says_what_the_model_is_and_whose_weights_it_holds():
    card = model_card(RUN_METADATA)
    assert card.startswith("# Model card: ge2e (none)\n")
    assert "- model family: `ge2e`" in card and "- task: gender; training corpus: synthetic" in card
    assert "classes (2, in the order of the probabilities): female, male" in card
    assert "16000 Hz; clips of 2 s (32000 samples)" in card
    assert "## Intended use" in card
    assert f"Trained on generated voices; on real voices see {REAL_VOICES_PAGE}." in card
    assert "- ge2e (package: resemblyzer==0.1.4; licence: Apache-2.0; authors: Corentin Jemine" in card


def test_measured_limits_when_recorded_else_where_the_run_table_is():
    assert "see the run's `table.md`" in model_card(RUN_METADATA)
    measured = {
        "clean": 0.979,
        "mean_spoiled": 0.907,
        "worst_corruption": "speed",
        "worst_accuracy": 0.736,
        "source": "results/run/table.md",
    }
    card = model_card({**RUN_METADATA, "measured": measured})
    assert "- clean accuracy: 0.979" in card and "mean spoiled accuracy" in card and "0.907" in card
    assert "- worst corruption: speed (0.736)" in card and "see the run's" not in card


def test_a_model_trained_from_scratch_on_a_recorded_corpus():
    metadata = {
        **RUN_METADATA,
        "model": "conv1d",
        "corpus": "timit",
        "training": {},
        "formats": {"onnx": {"file": "model.onnx", "max_abs_difference": 2e-7, "tolerance": 1e-4}},
    }
    card = model_card(metadata)
    assert "generated voices" not in card
    assert "None: every weight was trained by this suite's run" in card
    assert "- `model.onnx`: the onnx copy, within 2e-07 of the Keras model" in card


def test_unrecorded_entries_are_said_to_be_unrecorded():
    card = model_card({"class_names": ["a", "b"], "sample_rate": 8000, "clip_samples": 4000})
    assert "- model family: not recorded" in card and "- task: not recorded; training corpus: not recorded" in card


def test_every_export_carries_its_card(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(
        "conv1d", 2, 8000, FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=16), filters=(4,)
    )
    directory = export_model(
        model,
        tmp_path / "export",
        class_names=["low", "high"],
        sample_rate=8000,
        clip_samples=4000,
        extra_metadata={"model": "conv1d", "corpus": "synthetic"},
    )
    card = (directory / MODEL_CARD_FILE).read_text()
    assert "classes (2, in the order of the probabilities): low, high" in card and "generated voices" in card
