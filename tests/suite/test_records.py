"""Stage records: each reads back what its writer wrote, and a reader refuses a missing key or a wrong type
with one error naming the file and the key; run folders of the older, untyped format still read."""

import json
import math
import shutil
from pathlib import Path

import pytest

from keras_audio.suite.records import (
    EVALUATION_FILE,
    TRAINING_FILE,
    EvaluatedModel,
    EvaluationRecord,
    HeldOutFigures,
    HeldOutRow,
    HeldOutSummary,
    RecordError,
    ResultRow,
    TestSetRecord,
    TrainedModelRecord,
    TrainingRecord,
)
from keras_audio.suite.results import ModelKey
from keras_audio.suite.tables import read_long_table, write_json, write_long_table

OLD_RUN = Path(__file__).parent / "fixtures" / "old_run"  # a run folder as versions before these records wrote it


def _trained(**changes) -> TrainedModelRecord:
    values = {
        "model": "conv1d",
        "policy": "none",
        "seed": 0,
        "fold": "",
        "params": 1234,
        "train_seconds": 1.5,
        "epochs_run": 3,
        "best_epoch": 2,
        "export": "models/conv1d-none-seed0",
        "export_max_abs_difference": 1e-7,
        "formats": {"tflite": {"file": "model.tflite", "max_abs_difference": 1e-6, "tolerance": 1e-4}},
    }
    return TrainedModelRecord(**{**values, **changes})


def _training() -> TrainingRecord:
    return TrainingRecord(
        "synthetic",
        "gender",
        ("female", "male"),
        {"clips": 10, "speakers": 4},
        "speaker",
        ({"clip_id": "a", "path": "a.wav", "problem": "empty"},),
        ("few speakers",),
        (),
        (_trained(), _trained(model="ae_clf", pairs="noise", params=None)),
    )


def _evaluation() -> EvaluationRecord:
    test_set = TestSetRecord(
        "in-domain", "", "synthetic", "gender", 8, "sha256:ab", 4, (("clean", 0), ("white_noise", 1))
    )
    return EvaluationRecord(
        ("female", "male"),
        "gender",
        ("a note",),
        (test_set,),
        (
            EvaluatedModel.of(ModelKey("conv1d", "none", 0, mixup=0.2), "models/x", 16000, 32000),
            EvaluatedModel.of(ModelKey("outside", "unknown", 0), "p.csv"),
        ),
        seed=0,
    )


def test_training_and_evaluation_records_round_trip(tmp_path):
    _training().write(tmp_path)
    assert TrainingRecord.read(tmp_path) == _training()
    _evaluation().write(tmp_path)
    assert EvaluationRecord.read(tmp_path) == _evaluation()
    written = json.loads((tmp_path / EVALUATION_FILE).read_text())
    assert "sample_rate" not in written["models"][1]  # unknown for predictions scored from a file


def test_result_rows_round_trip_through_json_and_the_long_table(tmp_path):
    rows = [
        ResultRow("conv1d", "none", 0, "", "clean", 0, 0.9, 0.85, 8, 0.8, 0.95),
        ResultRow("ae_clf", "none", 1, "2", "white_noise", 3, 0.5, 0.5, 8, pairs="noise"),
    ]
    for row in rows:  # NaN (no interval) is written as null and read back as NaN
        written = json.loads(json.dumps(row.to_json()).replace("NaN", "null"))
        assert json.dumps(ResultRow.from_json(written, "metrics.json").to_json()) == json.dumps(row.to_json())
    assert "pairs" not in rows[0].to_json() and "test_corpus" not in rows[0].to_json()
    write_long_table([ResultRow(**{**vars(r), "test_corpus": "in-domain"}) for r in rows], tmp_path / "table.csv")
    back = read_long_table(tmp_path / "table.csv")
    assert [r.key for r in back] == [r.key for r in rows] and back[1].pairs == "noise"
    assert math.isnan(back[1].ci_low) and back[0].test_corpus == "in-domain"
    assert back[1].policy_label == "none (pairs: noise)"


def test_held_out_figures_round_trip(tmp_path):
    row = HeldOutRow(
        "m",
        "suite-minus:noise",
        "suite",
        "noise",
        ("white_noise",),
        0,
        "",
        0.9,
        0.7,
        0.91,
        0.8,
        0.88,
        0.69,
        0.9,
        0.79,
        1.2,
        None,
    )
    summary = HeldOutSummary("m", "suite", 0, "", ("noise",), 1.2, None, 0.91, 0.9)
    figures = HeldOutFigures({"noise": ("white_noise",)}, (), (row,), (summary,), ("m", "none"))
    write_json({"heldout": figures.to_json()}, tmp_path / "metrics.json")
    assert HeldOutFigures.read(tmp_path / "metrics.json") == figures
    write_json({"rows": []}, tmp_path / "plain.json")
    assert HeldOutFigures.read(tmp_path / "plain.json") is None


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda v: v.pop("corpus"), "missing key 'corpus'"),
        (lambda v: v.pop("models"), "missing key 'models'"),
        (lambda v: v["models"][1].pop("export"), r"missing key 'models\[1\].export'"),
        (lambda v: v.update(classes="female"), "classes must be a list"),
        (lambda v: v["models"][0].update(seed="0"), r"models\[0\].seed must be an integer"),
        (lambda v: v["models"][0].update(params=1.5), r"models\[0\].params must be an integer"),
        (lambda v: v.update(manifest=[]), "manifest must be a JSON object"),
    ],
)
def test_a_broken_training_record_is_refused_naming_the_file_and_key(tmp_path, change, message):
    _training().write(tmp_path)
    values = json.loads((tmp_path / TRAINING_FILE).read_text())
    change(values)
    (tmp_path / TRAINING_FILE).write_text(json.dumps(values))
    with pytest.raises(RecordError, match=message) as caught:
        TrainingRecord.read(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / TRAINING_FILE))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda v: v.pop("classes"), "missing key 'classes'"),
        (lambda v: v["test_sets"][0].pop("clips_sha256"), r"missing key 'test_sets\[0\].clips_sha256'"),
        (lambda v: v["test_sets"][0].update(conditions=[["clean"]]), r"test_sets\[0\].conditions\[0\] must hold 2"),
        (lambda v: v["test_sets"][0].update(clips=True), r"test_sets\[0\].clips must be an integer"),
        (lambda v: v["models"][0].update(fold=None), r"models\[0\].fold must be a string"),
        (lambda v: v.update(notes="a note"), "notes must be a list"),
    ],
)
def test_a_broken_evaluation_record_is_refused_naming_the_file_and_key(tmp_path, change, message):
    _evaluation().write(tmp_path)
    values = json.loads((tmp_path / EVALUATION_FILE).read_text())
    change(values)
    (tmp_path / EVALUATION_FILE).write_text(json.dumps(values))
    with pytest.raises(RecordError, match=message) as caught:
        EvaluationRecord.read(tmp_path)
    assert str(tmp_path / EVALUATION_FILE) in str(caught.value)


def test_a_missing_or_unparsable_record_file_is_named(tmp_path):
    with pytest.raises(RecordError, match=f"{TRAINING_FILE}: cannot read"):
        TrainingRecord.read(tmp_path)
    (tmp_path / EVALUATION_FILE).write_text("[1]")
    with pytest.raises(RecordError, match=f"{EVALUATION_FILE}: must hold a JSON object"):
        EvaluationRecord.read(tmp_path)
    (tmp_path / "metrics.json").write_text('{"heldout": {"families": {}}}')
    with pytest.raises(RecordError, match="missing key 'heldout.reference'"):
        HeldOutFigures.read(tmp_path / "metrics.json")
    with pytest.raises(RecordError, match=r"metrics.json: rows\[3\].accuracy must be a number"):
        ResultRow.from_json(
            {
                **_trained().key.__dict__,
                "corruption": "clean",
                "severity": 0,
                "accuracy": "0.5",
                "balanced_accuracy": 0.5,
                "n": 8,
            },
            "metrics.json",
            "rows[3]",
        )


def test_an_older_run_folder_still_reads_and_reports_the_same_table(tmp_path):
    from keras_audio.suite.config import RunConfig
    from keras_audio.suite.experiment import rereport
    from keras_audio.suite.stages.train import TrainedModel

    run = tmp_path / "old_run"
    shutil.copytree(OLD_RUN, run)
    config = RunConfig.load(run / "config.json")  # its `options` object fills the typed sections
    assert config.training.mixup_alpha == 0.2 and config.training.model_options["conv1d"]["kernel_size"] == 3
    (model,) = TrainingRecord.read(run).models  # its policy label "none (mixup 0.2)" becomes fields
    assert (model.policy, model.mixup, model.pairs) == ("none", 0.2, "")
    assert EvaluationRecord.read(run).models[0].key == ModelKey("conv1d", "none", 3)
    assert TrainedModel.read(run, "conv1d-none-seed3").key.mixup == 0.2
    old_metrics = json.loads((OLD_RUN / "metrics.json").read_text())
    assert rereport(run, log=lambda *args: None) == (OLD_RUN / "table.md").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert [r["accuracy"] for r in metrics["rows"]] == [r["accuracy"] for r in old_metrics["rows"]]
    assert {(r["policy"], r["mixup"]) for r in metrics["rows"]} == {("none", 0.2)}
    assert read_long_table(run / "table.csv")[0].policy_label == "none (mixup 0.2)"


@pytest.mark.slow  # a whole run
def test_a_denoising_models_pairs_are_a_field_and_only_the_tables_show_them_in_the_label(tmp_path):
    from keras_audio.suite.experiment import run_experiment
    from tests.tiny_run import tiny_config, write_tone_corpus

    (tmp_path / "tones").mkdir()
    config = tiny_config(write_tone_corpus(tmp_path / "tones"), tmp_path, "pairs")
    config.models, config.corruptions, config.severities = ["conv1d", "ae_clf"], ["white_noise"], [1]
    config.training.model_options["ae_clf"] = {"filters": [4, 4]}
    run = run_experiment(config, progress=False, log=lambda *args: None)
    models = {m.model: m for m in TrainingRecord.read(run).models}
    assert (models["ae_clf"].policy, models["ae_clf"].pairs) == ("none", "noise") and models["conv1d"].pairs == ""
    assert (run / "models" / "ae_clf-none-seed3").is_dir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["mce_reference"] == {"model": "conv1d", "policy": "none"}  # the denoiser saw noise
    assert {(r["model"], r["policy"], r.get("pairs")) for r in metrics["rows"]} == {
        ("conv1d", "none", None),
        ("ae_clf", "none", "noise"),
    }
    assert "| ae_clf | none (pairs: noise) |" in (run / "table.md").read_text()
    assert {r.policy_label for r in read_long_table(run / "table.csv")} == {"none", "none (pairs: noise)"}
