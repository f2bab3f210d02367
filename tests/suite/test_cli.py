"""`keras-audio`: flags become a RunConfig (overrides, corpus options, resource folders); user errors are one
line on stderr with exit code 2; `benchmarks/run.py` is `keras-audio run`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keras_audio.suite import cli
from keras_audio.suite.config import CorpusSpec, RunConfig

REPO = Path(__file__).resolve().parents[2]


def _config(*argv):
    return cli.build_config(cli.build_parser().parse_args(["run", *argv]))


def test_defaults_are_the_run_config_defaults():
    config = _config("--no-shared-data")
    defaults = RunConfig()
    assert (config.corpus, config.models, config.epochs, config.seed) == (
        defaults.corpus,
        defaults.models,
        defaults.epochs,
        defaults.seed,
    )
    assert config.ir_dir is None  # no development recordings: recorded-IR reverb is left out
    assert config.noise_dir.endswith("datasets/synthetic/noise")  # the generated corpus's own recordings


def test_data_cache_and_results_roots_come_from_the_home_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_AUDIO_HOME", str(tmp_path))
    config = _config("--no-shared-data")
    assert config.out == str(tmp_path / "results")
    assert config.cache_dir == str(tmp_path / "datasets" / ".cache")
    assert config.noise_dir == str(tmp_path / "datasets" / "synthetic" / "noise")


def test_flags_override_a_config_file(tmp_path):
    path = tmp_path / "c.json"
    RunConfig(epochs=3, models=["vgg"], seed=5).save(path)
    config = _config(
        "--config",
        str(path),
        "--epochs",
        "7",
        "--severities",
        "1",
        "3",
        "--data-dir",
        str(tmp_path / "corpus"),
        "--no-shared-data",
    )
    assert config.epochs == 7 and config.models == ["vgg"] and config.seed == 5 and config.severities == [1, 3]
    assert config.noise_dir == str(tmp_path / "corpus" / "noise")


def test_corpus_options_are_parsed_as_json_when_they_can_be():
    config = _config(
        "--corpus",
        "fsdd",
        "--corpus-option",
        "split=speaker",
        "--corpus-option",
        "test_fraction=0.2",
        "--corpus-option",
        "include_sa=false",
        "--esc10",
    )
    assert config.data.corpus_options == {"split": "speaker", "test_fraction": 0.2, "include_sa": False, "esc10": True}
    json.dumps(config.to_dict())  # the config is recorded as JSON in every run


def test_test_corpora_and_class_maps_reach_the_config():
    config = _config(
        "--test-corpus",
        "audiomnist=/data/az",
        "--test-corpus",
        "fsdd",
        "--test-split",
        "all",
        "--class-map",
        "F=female",
        "--no-shared-data",
    )
    assert config.evaluation.test_corpora == [CorpusSpec("audiomnist", "/data/az"), CorpusSpec("fsdd")]
    assert config.evaluation.test_split == "all" and config.evaluation.class_map == {"F": "female"}


def test_a_user_error_is_one_line_and_exit_code_2(capsys, tmp_path):
    code = cli.main(["run", "--corpus-option", "split", "--no-shared-data", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "KEY=VALUE" in err[0] and "Traceback" not in err[0]


def test_an_unknown_model_is_refused_before_any_work(capsys, tmp_path):
    code = cli.main(
        [
            "run",
            "--models",
            "conv9d",
            "--no-shared-data",
            "--out",
            str(tmp_path / "r"),
            "--data-dir",
            str(tmp_path / "none"),
        ]
    )
    assert code == 2
    assert "conv9d" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_evaluate_needs_a_corpus(capsys, tmp_path):
    assert cli.main(["evaluate", str(tmp_path), "--no-shared-data"]) == 2
    assert "--corpus" in capsys.readouterr().err


def test_the_module_and_the_benchmark_script_are_the_same_command(monkeypatch, capsys):
    import runpy

    # `python -m keras_audio` in a fresh interpreter: the package's __main__ is the command line.
    version = subprocess.run(
        [sys.executable, "-m", "keras_audio", "--version"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert version.returncode == 0, version.stderr
    assert "keras_audio" in version.stdout
    # The script run as a program (in this interpreter, which has imported everything it imports already) is
    # `keras-audio run`: the same help, flag for flag.
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--help"])
    assert exited.value.code in (0, None)
    run_help = capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", [str(REPO / "benchmarks" / "run.py"), "--help"])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts the repository first on it
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(REPO / "benchmarks" / "run.py"), run_name="__main__")
    assert exited.value.code in (0, None), f"benchmarks/run.py --help exited with {exited.value.code}"
    script_help = capsys.readouterr().out
    assert "--corpus" in script_help and script_help == run_help


def test_an_unknown_corpus_option_is_one_line_naming_it_and_the_known_ones(capsys, tmp_path):
    code = cli.main(
        [
            "run",
            "--corpus",
            "csv",
            "--data-dir",
            str(tmp_path / "none"),
            "--corpus-option",
            "nosuch=1",
            "--no-shared-data",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert "'nosuch'" in line and "manifest, validation_fraction, test_fraction" in line


@pytest.mark.parametrize(
    "seconds, message",
    [
        (
            "0.001",
            r"--clip-seconds 0.001 is 16 sample\(s\) at 16000 Hz, shorter than the front-end's analysis window "
            r"\(features.n_fft = 512 samples\).*0.032 or more",
        ),
        ("36000", r"--clip-seconds 36000: a training batch of 32 clips of 576000000 samples needs about 2.36e\+03 GB"),
    ],
)
def test_a_clip_length_the_run_cannot_train_is_refused_before_any_work(capsys, tmp_path, seconds, message):
    import re

    code = cli.main(
        [
            "run",
            "--clip-seconds",
            seconds,
            "--sample-rate",
            "16000",
            "--batch-size",
            "32",
            "--corpus",
            "csv",
            "--data-dir",
            str(tmp_path / "none"),
            "--no-shared-data",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r").exists()
