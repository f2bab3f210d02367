import pytest

from keras_audio.config import FeatureConfig, RunConfig


def test_round_trip_through_json(tmp_path):
    config = RunConfig(models=["conv2d"], seed=7, features=FeatureConfig(n_mels=40), options={"a": {"b": 1}})
    config.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == config


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match="unknown config keys"):
        RunConfig.from_dict({"modles": ["conv1d"]})


@pytest.mark.parametrize("field,value", [("epochs", 0), ("seeds", 0), ("severities", [0, 6]), ("clip_seconds", -1.0),
                                         ("models", [])])
def test_validation_names_the_bad_field(field, value):
    config = RunConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        config.validate()


def test_clip_samples():
    assert RunConfig(sample_rate=16000, clip_seconds=2.5).clip_samples == 40000
