"""End to end on a tiny generated corpus: the run folder is complete, parses, and is reproducible from its seed."""

import json

import numpy as np
import pytest

from keras_audio.corpora.folder import load_csv
from keras_audio.suite.config import DataConfig, RunConfig
from keras_audio.suite.experiment import run_experiment
from keras_audio.suite.results import ModelKey, reference_model
from keras_audio.suite.stages.data import rounds
from keras_audio.suite.tables import LONG_COLUMNS, read_long_table
from tests.tiny_run import SAMPLE_RATE, tiny_config, write_tone_corpus

pytestmark = pytest.mark.slow  # a whole run, shared by the module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tone_corpus(tmp_path_factory.mktemp("tones"))


_config = tiny_config


@pytest.fixture(scope="module")
def two_runs(corpus, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("runs")
    quiet = lambda *args: None  # noqa: E731
    return [run_experiment(_config(corpus, tmp_path, name), progress=False, log=quiet) for name in ("a", "b")]


def test_same_seed_gives_identical_metrics(two_runs):
    first, second = two_runs
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()
    assert (first / "table.csv").read_bytes() == (second / "table.csv").read_bytes()


def test_run_folder_files_parse(two_runs):
    run = two_runs[0]
    rows = read_long_table(run / "table.csv")
    assert (run / "table.csv").read_text().splitlines()[0].split(",") == list(LONG_COLUMNS)
    assert len(rows) == 1 + 2 * 2  # clean + 2 corruptions x 2 severities, one model
    for row in rows:
        assert 0 <= row.ci_low <= row.accuracy <= row.ci_high <= 1
        assert row.n == 8

    metrics = json.loads((run / "metrics.json").read_text())
    assert {
        "corpus",
        "task",
        "classes",
        "seed",
        "training_seeds",
        "majority_baseline",
        "bootstrap",
        "intervals",
        "summaries",
        "rows",
    } <= set(metrics)
    assert metrics["classes"] == ["high", "low"] and metrics["training_seeds"] == [3]
    assert metrics["bootstrap"]["unit"] == "test speaker"
    (interval,) = metrics["intervals"]
    assert interval["model"] == "conv1d" and len(interval["clean"]) == 2 and len(interval["mean_spoiled"]) == 2
    assert "seconds" not in json.dumps(metrics)  # timings live in record.json only

    record = json.loads((run / "record.json").read_text())
    assert {
        "software",
        "machine",
        "git",
        "manifest",
        "bad_files",
        "stages_seconds",
        "total_seconds",
        "models",
        "plots",
    } <= set(record)
    assert {"python", "tensorflow", "keras", "tensorflow-io"} <= set(record["software"])
    assert record["manifest"]["per_split"]["test"] == {"clips": 8, "speakers": 4, "labels": {"high": 4, "low": 4}}
    assert record["bad_files"]["count"] == 0
    assert {"corpus", "decode", "train", "evaluate", "report"} <= set(record["stages_seconds"])
    assert record["plot_problems"] == []

    history = json.loads((run / "history.json").read_text())
    assert list(history) == ["conv1d/none/3"] and len(history["conv1d/none/3"]["loss"]) == 1
    assert RunConfig.load(run / "config.json").seed == 3

    plots = sorted(p.name for p in (run / "plots").glob("*.png"))
    assert plots == [
        "accuracy_vs_severity.png",
        "confusion_conv1d_none.png",
        "corruption_heatmap.png",
        "learning_curves.png",
        "spectrogram_gallery.png",
    ]
    assert record["plots"] == plots
    table_md = (run / "table.md").read_text()
    assert "95% CI" in table_md and "| conv1d | none |" in table_md


def test_gallery_shows_what_evaluation_feeds_the_models(corpus, tmp_path):
    from keras_audio.cache import load_waveforms
    from keras_audio.corpora import load_corpus
    from keras_audio.corruptions.registry import build_suite
    from keras_audio.pipeline import ClipSource, evaluation_dataset
    from keras_audio.suite.stages.evaluate import _gallery_waveforms

    config = _config(corpus, tmp_path, "gallery")
    manifest = load_corpus("csv", corpus)
    store = load_waveforms(manifest, SAMPLE_RATE, tmp_path / "cache", progress=False).store
    test = manifest.subset("test")
    suite = build_suite(["white_noise", "speed"], SAMPLE_RATE)
    gallery = _gallery_waveforms(config, store, test.clip_ids[0], suite)
    assert list(gallery) == ["clean", "white_noise, severity 3", "speed, severity 3"]
    source = ClipSource(store, test)  # the whole test set: the first clip's version must not depend on its batch
    for title, corruption in (("clean", None), *((f"{n}, severity 3", c) for n, c in suite.items())):
        batch, _ = next(
            iter(evaluation_dataset(source, config.clip_samples, 4, corruption, 3 if corruption else 0, config.seed))
        )
        np.testing.assert_allclose(gallery[title], batch.numpy()[0], atol=1e-6, err_msg=title)
    assert not np.allclose(gallery["clean"], gallery["white_noise, severity 3"])


@pytest.mark.parametrize(
    "models,policies,message",
    [
        (["mlp_features"], ["none", "specaugment"], "no log-mel"),
        (["conv1d"], ["noise+suite"], "two waveform parts"),
        (["conv1d"], ["mixup"], "unknown policy part"),
        (["no_such_model"], ["none"], "unknown model"),
        (["conv1d", "conv1d"], ["none"], r"models \['conv1d'\] named more than once"),
        (["conv1d"], ["suite", "none", "suite"], r"policies \['suite'\] named more than once"),
    ],
)
def test_an_impossible_plan_is_refused_before_any_work(tmp_path, models, policies, message):
    config = RunConfig(
        corpus="folder",
        data_dir=str(tmp_path / "does-not-exist"),
        models=models,
        policies=policies,
        out=str(tmp_path / "results"),
    )
    with pytest.raises(ValueError, match=message):
        run_experiment(config, progress=False)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.mark.parametrize(
    "models,policies,reference",
    [
        (["conv1d", "conv2d"], ["none"], "vgg"),  # not trained in this run
        (["conv1d"], ["suite"], "conv1d"),  # never trained clean
    ],
)
def test_a_reference_model_the_run_cannot_train_is_refused_before_any_work(tmp_path, models, policies, reference):
    config = RunConfig(
        corpus="folder",
        data_dir=str(tmp_path / "does-not-exist"),
        models=models,
        policies=policies,
        reference_model=reference,
        out=str(tmp_path / "results"),
    )
    with pytest.raises(ValueError, match=f"reference model '{reference}'"):
        run_experiment(config, progress=False)


def test_the_default_reference_is_the_first_model_trained_clean():
    trained = [
        ModelKey(model, policy, 0)
        for model, policy in [("ae_clf", "none"), ("ae_clf", "suite"), ("conv1d", "suite"), ("conv1d", "none")]
    ]
    trained[0] = ModelKey("ae_clf", "none", 0, pairs="noise")  # it saw noisy pairs: no clean reference
    assert reference_model(trained, ["ae_clf", "conv1d"], None) == ("conv1d", "none")
    assert reference_model(trained[:1], ["ae_clf"], None) is None


def test_cross_validation_without_folds_is_an_error_not_one_plain_round(corpus):
    manifest = load_csv(corpus)
    assert rounds(manifest, RunConfig()) == [("", manifest)]
    with pytest.raises(ValueError, match="no 'fold' column"):
        rounds(manifest, RunConfig(data=DataConfig(cross_validation=True)))
