"""The stages alone: `run_evaluation` on a run's exports, on an outside Keras model, and `--test-corpus` in a
run, all through the entry points a user calls, on a tiny corpus of tones."""

import json

import keras
import numpy as np
import pytest

from keras_audio.suite.config import CorpusSpec
from keras_audio.suite.experiment import rereport, run_evaluation, run_experiment
from keras_audio.suite.tables import read_long_table
from tests.tiny_run import tiny_config as _config
from tests.tiny_run import write_tone_corpus

pytestmark = pytest.mark.slow  # whole runs: train, evaluate and report

QUIET = lambda *args: None  # noqa: E731


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tone_corpus(tmp_path_factory.mktemp("tones"))


def _argv(tmp_path, name, *more):
    """`keras-audio run` of the shared run's config file (`shifted_run`) as `name`, into its results folder."""
    return [
        "run",
        "--config",
        str(tmp_path / "config.json"),
        "--run-name",
        name,
        "--out",
        str(tmp_path / "results"),
        "--no-shared-data",
        "--no-progress",
        *more,
    ]


@pytest.fixture(scope="module")
def shifted_run(corpus, tmp_path_factory):
    """A run that also tests on a second copy of the corpus (as another corpus would be, by name).

    It is also the uninterrupted run the killed-and-resumed one is compared with, so it trains for a few epochs.
    """
    from keras_audio.suite import cli

    tmp_path = tmp_path_factory.mktemp("stages")
    config = _config(corpus, tmp_path, None)
    config.evaluation.test_corpora = [CorpusSpec("csv", str(corpus))]
    config.epochs, config.patience = 4, 10
    config.save(tmp_path / "config.json")
    assert cli.main(_argv(tmp_path, "whole")) == 0
    return tmp_path / "results" / "whole", tmp_path


def _rows(run, test_corpus=None):
    rows = read_long_table(run / "table.csv")
    return [
        {k: getattr(r, k) for k in ("model", "corruption", "severity", "accuracy", "balanced_accuracy", "n")}
        for r in rows
        if test_corpus is None or r.test_corpus == test_corpus
    ]


def test_evaluating_a_runs_exports_alone_gives_the_runs_numbers(shifted_run, corpus):
    run, tmp_path = shifted_run
    config = _config(corpus, tmp_path, "alone")
    alone = run_evaluation(config, [run], progress=False, log=QUIET)
    assert _rows(alone) == _rows(run, "in-domain")
    # the --test-corpus rows are the same corpus scored the same way, so they match too
    assert _rows(run, "csv") == _rows(run, "in-domain")
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["other_corpora"]) == {"csv"}
    assert "In-domain vs other corpora" in (run / "table.md").read_text()


def test_the_report_stage_reruns_from_the_files_alone(shifted_run):
    run, _ = shifted_run
    before = (run / "metrics.json").read_bytes()
    (run / "metrics.json").unlink()
    rereport(run, log=QUIET)
    assert (run / "metrics.json").read_bytes() == before


def test_an_outside_keras_model_gets_the_full_table(corpus, tmp_path):
    inputs = keras.Input(shape=(None,), name="waveform")
    x = keras.layers.Reshape((-1, 1))(inputs)
    x = keras.layers.Conv1D(4, 64, strides=32, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    path = tmp_path / "plain.keras"
    keras.Model(inputs, outputs).save(path)
    config = _config(corpus, tmp_path, "outside")
    with pytest.raises(ValueError, match="--class-names"):
        run_evaluation(config, [path], progress=False, log=QUIET)
    run = run_evaluation(
        _config(corpus, tmp_path, "outside"),
        [path],
        class_names=["high", "low"],
        sample_rate=8000,
        progress=False,
        log=QUIET,
    )
    rows = _rows(run)
    assert [r["model"] for r in rows] == ["plain"] * 5 and rows[0]["corruption"] == "clean"
    assert all(r["n"] == 8 for r in rows)
    assert (run / "plots").is_dir() and (run / "predictions.csv.gz").is_file()


def test_classes_are_matched_by_name_and_a_mismatch_is_refused(shifted_run, corpus, tmp_path):
    run, _ = shifted_run
    with pytest.raises(ValueError, match="does not know"):
        run_evaluation(_config(corpus, tmp_path, "bad"), [run], class_map={"low": "lowest"}, progress=False, log=QUIET)
    swapped = run_evaluation(
        _config(corpus, tmp_path, "swapped"), [run], class_map={"low": "high", "high": "low"}, progress=False, log=QUIET
    )
    plain = {(r["model"], r["corruption"], r["severity"]): r["accuracy"] for r in _rows(run, "in-domain")}
    for r in _rows(swapped):  # every label swapped: each accuracy becomes its complement
        assert np.isclose(r["accuracy"], 1 - plain[(r["model"], r["corruption"], r["severity"])])


def test_two_corpora_train_together_and_each_is_reported(corpus, tmp_path):
    from keras_audio.suite import cli

    config = cli.build_config(
        cli.build_parser().parse_args(
            ["run", "--corpus", f"csv={corpus}", "--corpus", f"folder={corpus.parent}", "--no-shared-data"]
        )
    )
    assert config.corpus == "csv+folder" and [s.corpus for s in config.data.corpora] == ["csv", "folder"]
    base = _config(corpus, tmp_path, "together")
    base.corpus, base.corruptions, base.severities = "csv+copy", ["white_noise"], [1]  # the grid is not the point
    base.data.corpora = [CorpusSpec("csv", str(corpus)), CorpusSpec("csv", str(corpus), name="copy")]
    run = run_experiment(base, progress=False, log=QUIET)
    rows = read_long_table(run / "table.csv")
    assert {r.test_corpus for r in rows} == {"in-domain", "csv (its test split)", "copy (its test split)"}
    assert {r.n for r in rows if r.test_corpus == "in-domain"} == {16}  # both corpora's test clips
    training = json.loads((run / "training.json").read_text())
    assert training["manifest"]["speakers"] == 32  # speakers are kept apart per corpus (prefixed)


def test_a_run_killed_in_training_then_resumed_matches_an_uninterrupted_one(shifted_run, capsys):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from keras_audio.suite import cli

    whole, tmp_path = shifted_run  # the uninterrupted run of the same config file
    out = tmp_path / "results"
    # Only the killed run needs a process of its own (SIGTERM); the resume runs in this one, as `whole` did.
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    killed = subprocess.Popen(
        [sys.executable, "-m", "keras_audio", *_argv(tmp_path, "resumed")],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not list(out.glob(".resumed.partial-*/checkpoints/conv1d-*/*/epoch-0002")):  # epochs 3 and 4 to go
        assert killed.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    killed.send_signal(signal.SIGTERM)
    assert killed.wait(timeout=120) == 143
    kept = list(out.glob(".resumed.partial-*"))
    assert kept, "the killed resumable run keeps its partial folder"
    # Another run started in the same --out leaves that folder alone; its own --resume finds nothing to
    # continue and says so.
    capsys.readouterr()
    assert cli.main(_argv(tmp_path, "other", "--resume", "--epochs", "1")) == 0
    assert list(out.glob(".resumed.partial-*")) == kept, "another run removed the folder kept for --resume"
    assert "--resume: no stopped run 'other'" in capsys.readouterr().err
    assert cli.main(_argv(tmp_path, "resumed", "--resume")) == 0
    assert "resuming resumed" in capsys.readouterr().out
    assert (out / "resumed" / "metrics.json").read_bytes() == (whole / "metrics.json").read_bytes()
    assert json.loads((out / "resumed" / "history.json").read_text()) == json.loads(
        (whole / "history.json").read_text()
    )
    assert not (out / "resumed" / "checkpoints").exists()


def _write_predictions(path, rows):
    import csv
    import gzip

    with gzip.open(path, "wt", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_the_report_matches_prediction_rows_by_key_and_names_a_missing_one(shifted_run, tmp_path, capsys):
    import csv
    import gzip
    import shutil

    from keras_audio.suite import cli

    run, _ = shifted_run
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("models", "logs"))
    path = copy / "predictions.csv.gz"
    with gzip.open(path, "rt", newline="") as handle:
        header, *body = list(csv.reader(handle))
    column = {name: i for i, name in enumerate(header)}
    for row in body:  # a perfect model
        row[column["predicted_label"]] = row[column["true_label"]]
    # Two rows of one condition with different labels swap places; each still carries its own clip id and labels.
    rows = [
        i
        for i, row in enumerate(body)
        if (row[column["test_set"]], row[column["corruption"]], row[column["severity"]])
        == ("in-domain", "white_noise", "3")
    ]
    first = rows[0]
    second = next(i for i in rows if body[i][column["true_label"]] != body[first][column["true_label"]])
    body[first], body[second] = body[second], body[first]
    _write_predictions(path, [header, *body])
    assert cli.main(["report", str(copy)]) == 0
    assert {r.accuracy for r in read_long_table(copy / "table.csv")} == {1.0}

    missing = body.pop(second)[column["clip_id"]]
    _write_predictions(path, [header, *body])
    capsys.readouterr()
    assert cli.main(["report", str(copy)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert str(path) in line and "conv1d / none / seed 3" in line and "white_noise" in line and missing in line


@pytest.mark.parametrize("problem", ["unknown class", "missing folder"])
def test_a_test_corpus_that_cannot_be_scored_is_refused_before_training(corpus, tmp_path, capsys, problem):
    import shutil

    from keras_audio.suite import cli

    if problem == "unknown class":
        odd = tmp_path / "odd"
        shutil.copytree(corpus.parent, odd)
        (odd / "manifest.csv").write_text(corpus.read_text().replace(",low,", ",middle,"))
        spec, named = f"csv={odd}", "['middle']"
    else:
        spec, named = f"csv={tmp_path / 'nowhere'}", "nowhere"
    _config(corpus, tmp_path, None).save(tmp_path / "config.json")
    assert cli.main(_argv(tmp_path, "bad", "--test-corpus", spec)) == 2
    out, err = capsys.readouterr()
    assert "training" not in out and not list((tmp_path / "results").glob("*/models"))
    assert f"--test-corpus {spec}" in err and named in err


def test_a_full_disk_after_training_keeps_the_trained_models_and_says_where(corpus, tmp_path, capsys, monkeypatch):
    import errno

    from keras_audio.suite import cli
    from keras_audio.suite.stages import evaluate

    def full_disk(test_sets, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(evaluate, "write_predictions", full_disk)
    _config(corpus, tmp_path, None).save(tmp_path / "config.json")
    assert cli.main(_argv(tmp_path, "full")) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    (kept,) = (tmp_path / "results").glob(".full.partial-*")
    assert "OSError: [Errno 28] No space left on device" in line and f"kept in {kept}" in line
    assert list(kept.glob("models/*/model.keras"))
    monkeypatch.undo()
    assert cli.main(_argv(tmp_path, "full", "--resume")) == 0
    assert "resuming full" in capsys.readouterr().out and (tmp_path / "results" / "full" / "metrics.json").is_file()


def test_an_evaluation_only_corpus_is_scored_with_split_all(shifted_run, corpus, tmp_path):
    import shutil

    from keras_audio.suite import cli

    run, _ = shifted_run
    only = tmp_path / "only"
    shutil.copytree(corpus.parent, only)
    text = corpus.read_text()
    for split in (",train\n", ",validation\n"):  # read_text gives the CSV's lines ending in \n
        text = text.replace(split, ",test\n")
    (only / "manifest.csv").write_text(text)
    assert (
        cli.main(
            [
                "--home",
                str(tmp_path),
                "evaluate",
                str(run),
                "--corpus",
                "csv",
                "--data-dir",
                str(only),
                "--split",
                "all",
                "--corruptions",
                "white_noise",
                "--severities",
                "1",
                "--no-shared-data",
                "--no-progress",
                "--out",
                str(tmp_path / "r"),
                "--run-name",
                "only",
            ]
        )
        == 0
    )
    assert {r.n for r in read_long_table(tmp_path / "r" / "only" / "table.csv")} == {32}


def test_an_os_error_is_one_line_and_exit_code_2(shifted_run, corpus, tmp_path, capsys):
    from keras_audio.suite import cli

    run, _ = shifted_run
    model = next((run / "models").iterdir())
    (tmp_path / "answers").mkdir()
    code = cli.main(
        [
            "predict",
            str(model),
            str(next(corpus.parent.glob("*.wav"))),
            "--out",
            str(tmp_path / "answers"),
            "--no-progress",
        ]
    )
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "IsADirectoryError" in line and str(tmp_path / "answers") in line
