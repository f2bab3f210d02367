"""benchmarks/run.py turns flags into a RunConfig: overrides, corpus options, resource folders."""

import importlib.util
import json
from pathlib import Path

import pytest

from keras_audio.config import RunConfig

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def run_module():
    spec = importlib.util.spec_from_file_location("run_cli", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(run_module, *argv):
    return run_module.build_config(run_module.parse_args(list(argv)))


def test_defaults_are_the_run_config_defaults(run_module):
    config = _config(run_module, "--no-shared-data")
    defaults = RunConfig()
    assert (config.corpus, config.models, config.epochs, config.seed) == (
        defaults.corpus, defaults.models, defaults.epochs, defaults.seed)
    assert config.ir_dir is None  # no development recordings: recorded-IR reverb is left out
    assert config.noise_dir.endswith("datasets/synthetic/noise")  # the generated corpus's own recordings


def test_flags_override_a_config_file(run_module, tmp_path):
    path = tmp_path / "c.json"
    RunConfig(epochs=3, models=["vgg"], seed=5).save(path)
    config = _config(run_module, "--config", str(path), "--epochs", "7", "--severities", "1", "3",
                     "--data-dir", str(tmp_path / "corpus"), "--no-shared-data")
    assert config.epochs == 7 and config.models == ["vgg"] and config.seed == 5 and config.severities == [1, 3]
    assert config.noise_dir == str(tmp_path / "corpus" / "noise")


def test_corpus_options_are_parsed_as_json_when_they_can_be(run_module):
    config = _config(run_module, "--corpus", "fsdd", "--corpus-option", "split=speaker",
                     "--corpus-option", "test_fraction=0.2", "--corpus-option", "include_sa=false", "--esc10")
    assert config.options["corpus"] == {"split": "speaker", "test_fraction": 0.2, "include_sa": False, "esc10": True}
    assert config.noise_dir is None or "shared" in config.noise_dir  # only the synthetic corpus brings noise
    json.dumps(config.to_dict())  # the config is recorded as JSON in every run


def test_a_malformed_corpus_option_is_refused(run_module):
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        _config(run_module, "--corpus-option", "split")
