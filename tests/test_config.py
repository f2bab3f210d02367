"""RunConfig: round trip, and every field checked for type and range when loaded and validated; unknown keys
anywhere are refused with the closest known key."""

import json
import math
import re

import pytest

from keras_audio.config import ConfigError, FeatureConfig
from keras_audio.streaming import DEFAULT_STREAM_THRESHOLD_GB
from keras_audio.suite.config import (
    CorpusSpec,
    DataConfig,
    EvaluationConfig,
    PlanConfig,
    RunConfig,
    TrainingConfig,
)
from keras_audio.suite.grid_parts import DEFAULT_TIMEOUT_SECONDS

# A config.json as versions before the typed sections wrote it: every option in one untyped object.
LEGACY_OPTIONS = {
    "models": {"conv2d": {"dropout": 0.1}},
    "cross_validation": True,
    "corpus": {"esc10": True},
    "policy_probability": 0.25,
    "mixup_alpha": 0.2,
    "export_formats": ["tflite"],
    "strategy": "mirrored",
    "source": "memory",
    "stream_threshold_gb": 1.5,
    "corpora": [{"corpus": "csv", "data_dir": "/a", "name": "a"}],
    "test_corpora": [{"corpus": "folder", "data_dir": "/b", "task": "t", "options": {"x": 1}}],
    "test_split": "all",
    "class_map": {"F": "female"},
    "shared_dir": "/shared",
    "shared_timeout_seconds": 60,
}


def test_round_trip_through_json(tmp_path):
    config = RunConfig(
        models=["conv2d"],
        seed=7,
        features=FeatureConfig(n_mels=40),
        plan=PlanConfig(min_clips=2),
        data=DataConfig(
            corpus_options={"esc10": True},
            cross_validation=True,
            corpora=[CorpusSpec("csv", "/a"), CorpusSpec("folder", name="f")],
        ),
        training=TrainingConfig(model_options={"conv2d": {"dropout": 0.1}}, policy_probability=0.25),
        evaluation=EvaluationConfig(test_corpora=[CorpusSpec("csv", "/c", options={"x": 1})]),
    )
    config.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == config


def test_an_older_configs_options_fill_the_typed_sections(tmp_path):
    values = {
        key: value
        for key, value in RunConfig(seed=3).to_dict().items()
        if key not in ("data", "training", "evaluation")
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**values, "options": LEGACY_OPTIONS}))
    config = RunConfig.load(path)
    assert config.seed == 3
    assert config.data == DataConfig(
        corpus_options={"esc10": True},
        corpora=[CorpusSpec("csv", "/a", name="a")],
        cross_validation=True,
        source="memory",
        stream_threshold_gb=1.5,
    )
    assert config.training == TrainingConfig(
        model_options={"conv2d": {"dropout": 0.1}},
        policy_probability=0.25,
        mixup_alpha=0.2,
        strategy="mirrored",
        export_formats=["tflite"],
    )
    assert config.evaluation == EvaluationConfig(
        test_corpora=[CorpusSpec("folder", "/b", "t", {"x": 1})],
        test_split="all",
        class_map={"F": "female"},
        shared_dir="/shared",
        shared_timeout_seconds=60.0,
    )
    config.save(tmp_path / "again.json")  # written in the new shape, read back the same
    assert "options" not in json.loads((tmp_path / "again.json").read_text())
    assert RunConfig.load(tmp_path / "again.json") == config


def test_defaults_match_the_librarys():
    assert DataConfig().stream_threshold_gb == DEFAULT_STREAM_THRESHOLD_GB
    assert EvaluationConfig().shared_timeout_seconds == DEFAULT_TIMEOUT_SECONDS


@pytest.mark.parametrize(
    "values, key, suggestion",
    [
        ({"modles": ["conv1d"]}, "modles", "models"),
        ({"features": {"n_mel": 40}}, "features.n_mel", "n_mels"),
        ({"plan": {"allow_missing_class": True}}, "plan.allow_missing_class", "allow_missing_classes"),
        ({"options": {"cross_validaton": True}}, "options.cross_validaton", "cross_validation"),
        ({"options": {"modelz": {"conv1d": {}}}}, "options.modelz", "models"),
        ({"training": {"mixup": 0.2}}, "training.mixup", "mixup_alpha"),
        ({"data": {"cross_validaton": True}}, "data.cross_validaton", "cross_validation"),
        (
            {"evaluation": {"test_corpora": [{"corpus": "csv", "data_dri": "/a"}]}},
            "evaluation.test_corpora[0].data_dri",
            "data_dir",
        ),
    ],
)
def test_unknown_keys_anywhere_are_refused_with_the_closest_known_key(values, key, suggestion):
    with pytest.raises(ConfigError, match=f"'{re.escape(key)}'.*did you mean '{suggestion}'") as caught:
        RunConfig.from_dict(values)
    assert caught.value.key == key


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("skip_bad", "false", "true or false"),  # a non-empty string is truthy: it would turn skipping on
        ("skip_bad", 0, "true or false"),
        ("epochs", "1", "integer"),
        ("epochs", 1.5, "integer"),
        ("epochs", True, "integer"),
        ("epochs", 0, ">= 1"),
        ("batch_size", 2.0, "integer"),
        ("seed", -1, ">= 0"),
        ("learning_rate", -1, "positive"),
        ("learning_rate", math.nan, "finite"),
        ("learning_rate", "0.001", "number"),
        ("clip_seconds", math.nan, "finite"),
        ("clip_seconds", math.inf, "finite"),
        ("clip_seconds", 1e-9, "less than one sample"),
        ("severities", [1, 1, 3], "more than once"),
        ("severities", [0, 6], "1"),
        ("severities", "3", "list"),
        ("models", [], "at least one"),
        ("models", "conv1d", "list"),
        ("models", ["conv1d", "conv1d"], "more than once"),
        ("corruptions", [], "at least one"),
        ("run_name", 3, "string"),
        ("features", {"n_fft": 511, "win_length": 400}, "even"),
        ("features", {"fmax": 9000.0}, "Nyquist"),
        ("features", {"top_db": -1}, "positive"),
        ("plan", {"min_clips": "5"}, "integer"),
        ("training", {"policy_probability": 7}, "<= 1"),
        ("data", {"cross_validation": "yes"}, "true or false"),
        ("training", {"model_options": {"conv1d": [8]}}, "JSON object"),
        ("training", {"export_formats": ["tflight"]}, "one of"),
        ("training", ["model_options"], "JSON object"),
        ("evaluation", {"test_split": "train"}, "one of"),
        ("evaluation", {"test_corpora": [{"data_dir": "/a"}]}, "corpus recipe"),
        ("options", ["models"], "JSON object"),
    ],
)
def test_wrong_types_and_ranges_are_refused_when_loaded(tmp_path, key, value, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({key: value}))  # NaN and Infinity are JSON literals Python reads
    with pytest.raises(ConfigError, match=message) as caught:
        RunConfig.load(path)
    assert caught.value.key.split(".")[0] == key and str(path) in str(caught.value)


@pytest.mark.parametrize(
    "key, value",
    [
        ("clip_seconds", math.nan),
        ("learning_rate", -1.0),
        ("skip_bad", "false"),
        ("severities", [1, 1, 3]),
        ("epochs", "1"),
    ],
)
def test_values_set_after_loading_are_checked_by_validate(key, value):
    config = RunConfig()  # benchmarks/run.py sets flag values on the loaded config
    setattr(config, key, value)
    with pytest.raises(ConfigError, match=key):
        config.validate()


@pytest.mark.parametrize(
    "section, field, value, key",
    [
        ("data", "cross_validation", "yes", "data.cross_validation"),
        ("training", "strategy", "mirored", "training.strategy"),
        ("evaluation", "shared_timeout_seconds", 0, "evaluation.shared_timeout_seconds"),
    ],
)
def test_section_values_set_after_loading_are_checked_by_validate(section, field, value, key):
    config = RunConfig()
    setattr(getattr(config, section), field, value)
    with pytest.raises(ConfigError) as caught:
        config.validate()
    assert caught.value.key == key


def test_an_older_options_value_is_refused_under_its_new_key():
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict({"options": {"policy_probability": 7}})
    assert caught.value.key == "training.policy_probability"


def test_a_missing_or_broken_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        RunConfig.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"epochs": 3,}')
    with pytest.raises(ConfigError, match=r"bad\.json: not valid JSON"):
        RunConfig.load(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        RunConfig.load(tmp_path / "list.json")


def test_defaults_and_integer_valued_floats_are_accepted():
    RunConfig().validate()
    config = RunConfig.from_dict({"clip_seconds": 2, "learning_rate": 1, "features": {"fmax": 8000}})
    assert config.clip_samples == 32000 and config.features.fmax == 8000


def test_clip_samples():
    assert RunConfig(sample_rate=16000, clip_seconds=2.5).clip_samples == 40000
