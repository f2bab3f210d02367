"""The plan check: split and label sanity on a corpus's manifest, model options and resources, before any work."""

import os

import pytest

from keras_audio.config import ConfigError
from keras_audio.corpora import load_corpus
from keras_audio.suite import plan
from keras_audio.suite.config import CorpusSpec, EvaluationConfig, PlanConfig, RunConfig, TrainingConfig
from keras_audio.suite.plan import (
    PlanError,
    check_folders,
    check_model_options,
    check_plan,
    check_resources,
    check_run,
)
from tests.corpora import builders

pytestmark = pytest.mark.filterwarnings("ignore:.*its own speaker")


def _csv(root, rows, header="path,label,speaker,split"):
    """A CSV corpus: rows of (file name, label, speaker, split); each file a short tone."""
    for n, (name, *_rest) in enumerate(rows):
        if not (root / name).exists():
            builders.write(root / name, builders.tone(0.2, 16000, 200.0 + 40 * n, seed=n), 16000)
    lines = [header] + [",".join(row) for row in rows]
    (root / "clips.csv").write_text("\n".join(lines) + "\n")
    return load_corpus("csv", root / "clips.csv")


def _balanced(speakers_per_side=3, clips_per_speaker=2):
    rows = []
    for split in ("train", "validation", "test"):
        for label in ("yes", "no"):
            for s in range(speakers_per_side):
                for c in range(clips_per_speaker):
                    rows.append((f"{split}-{label}-{s}-{c}.wav", label, f"{split}-{label}-{s}", split))
    return rows


def test_a_sound_plan_passes_with_a_note_on_few_test_speakers(tmp_path):
    report = check_plan(_csv(tmp_path, _balanced()))
    assert report.warnings == [
        "the test split has 6 speaker(s) (fewer than 10): the 95% intervals resample "
        "whole test speakers, so with this few they are unreliable"
    ]
    assert check_plan(_csv(tmp_path, _balanced()), PlanConfig(min_test_speakers=6)).warnings == []


def test_a_class_absent_from_the_test_split_is_refused_by_name_unless_accepted(tmp_path):
    rows = [row for row in _balanced() if not (row[3] == "test" and row[1] == "no")]
    manifest = _csv(tmp_path, rows)
    with pytest.raises(PlanError, match=r"class 'no' has no clips in the 'test' split .*majority baseline"):
        check_plan(manifest)
    report = check_plan(manifest, PlanConfig(allow_missing_classes=True, min_test_speakers=1))
    assert len(report.warnings) == 1 and "accepted: plan.allow_missing_classes" in report.warnings[0]


def test_a_label_only_in_the_test_split_is_refused(tmp_path):
    rows = _balanced() + [("odd-0.wav", "maybe", "odd0", "test")]
    with pytest.raises(PlanError) as caught:
        check_plan(_csv(tmp_path, rows))
    assert "class 'maybe' has no clips in the 'train' split" in str(caught.value)
    assert "class 'maybe' has no clips in the 'validation' split" in str(caught.value)


def test_a_csv_without_validation_rows_is_refused_before_decoding(tmp_path):
    rows = [row for row in _balanced() if row[3] != "validation"]
    with pytest.raises(PlanError, match="the 'validation' split is empty"):
        check_plan(_csv(tmp_path, rows))


def test_a_folder_class_with_two_files_is_refused_naming_it(tmp_path):
    builders.class_folders(tmp_path / "pets")
    for n in range(2):
        builders.write(tmp_path / "pets" / "bird" / f"{n}.wav", builders.tone(0.25, seed=50 + n), 16000)
    manifest = load_corpus("folder", tmp_path / "pets")
    assert set(manifest.frame.loc[manifest.frame["label"] == "bird", "split"]) == {"train"}  # the drawn split
    with pytest.raises(PlanError, match="class 'bird' has no clips in the 'validation' split"):
        check_plan(manifest)


def test_few_clips_or_speakers_of_a_class_in_a_split_are_warnings(tmp_path):
    report = check_plan(
        _csv(tmp_path, _balanced(speakers_per_side=2, clips_per_speaker=1)), PlanConfig(min_test_speakers=1)
    )
    assert len(report.warnings) == 6  # 2 classes × 3 splits, each 2 clips from 2 speakers
    assert "class 'no' has only 2 clip(s) and 2 speaker(s) in the 'test' split" in report.warnings[2]


@pytest.mark.parametrize("spelling", ["./", "link"])
def test_one_file_under_two_clip_ids_on_two_sides_is_refused(tmp_path, spelling):
    rows = _balanced()
    moved = list(rows[-1])
    if spelling == "./":
        moved[0] = "./" + rows[0][0]  # the first training file again, as a test clip
    else:
        os.symlink(tmp_path / rows[0][0], tmp_path / "alias.wav")
        moved[0] = "alias.wav"
    rows[-1] = tuple(moved)
    with pytest.raises(
        PlanError,
        match=r"the same audio is on two sides of the split: clip '.*' \(train\) and "
        r"clip '.*' \(test\) \(one file",
    ):
        check_plan(_csv(tmp_path, rows))


def test_identical_bytes_under_two_names_are_found_with_the_content_hash(tmp_path):
    rows = _balanced()
    manifest = _csv(tmp_path, rows)
    (tmp_path / rows[-1][0]).write_bytes((tmp_path / rows[0][0]).read_bytes())  # a copy under the test clip's name
    assert check_plan(manifest, PlanConfig(min_test_speakers=1)).warnings == []  # paths differ
    with pytest.raises(PlanError, match=r"two sides of the split.*identical bytes"):
        check_plan(manifest, PlanConfig(content_hash=True))


def test_the_same_file_in_one_split_is_a_warning_and_disjoint_segments_are_no_duplicate(tmp_path):
    rows = _balanced()
    rows.append(("./" + rows[0][0], rows[0][1], rows[0][2], "train"))
    report = check_plan(_csv(tmp_path, rows), PlanConfig(min_test_speakers=1))
    assert report.warnings and "the same audio twice in the 'train' split" in report.warnings[0]
    segments = [(*row, "0.0", "0.1", row[0]) for row in _balanced()]
    segments.append((segments[0][0], "yes", "other", "test", "0.1", "0.1", "next"))  # the next 0.1 s of one file
    manifest = _csv(tmp_path / "segments", segments, "path,label,speaker,split,offset,duration,clip_id")
    assert not any("same audio" in w for w in check_plan(manifest).warnings)


# ---------------------------------------------------------------------------------- models, resources
@pytest.mark.parametrize(
    "models, options, message",
    [
        (
            ["conv1d"],
            {"conv1d": {"kernal_size": 3}},
            r"conv1d has no hyperparameter 'kernal_size'; did you mean "
            r"'kernel_size'\? \(conv1d takes filters, kernel_size, dropout, frontend\)",
        ),
        (["conv2"], {}, r"unknown model 'conv2'; did you mean 'conv2d'"),
        (
            ["conv1d"],
            {"conv1dd": {}},
            r"training.model_options.conv1dd: unknown model 'conv1dd'; did you mean 'conv1d'",
        ),
        (["conv1d"], {"conv1d": {"dropout": "0.3"}}, r"dropout: must be a finite number like its default 0.3"),
        (["conv1d"], {"conv1d": {"kernel_size": 3.0}}, r"kernel_size: must be an integer"),
        (["conv1d"], {"conv1d": {"filters": 8}}, r"filters: must be a list"),
        (["conv1d"], {"conv1d": {"num_classes": 3}}, r"num_classes: set by the run"),
    ],
)
def test_model_options_are_checked_against_the_builders(models, options, message):
    with pytest.raises(PlanError, match=message):
        check_model_options(models, options)


def test_good_model_options_pass_and_unused_ones_are_noted():
    report = check_model_options(
        ["conv1d"], {"conv1d": {"filters": [8], "kernel_size": 3, "dropout": 0}, "vgg": {"dropout": 0.2}}
    )
    assert report.notes == [
        "training.model_options.vgg is set, but 'vgg' is not among the run's models ['conv1d']: unused"
    ]


def test_resources_a_run_needs_are_checked_before_work(tmp_path):
    with pytest.raises(PlanError, match="model 'transfer' needs an encoder: pass --encoder"):
        check_resources(RunConfig(models=["transfer"]))
    with pytest.raises(PlanError, match="encoder .*nowhere: no such file or folder"):
        check_resources(
            RunConfig(
                models=["transfer"],
                training=TrainingConfig(model_options={"transfer": {"encoder": str(tmp_path / "nowhere")}}),
            )
        )
    with pytest.raises(PlanError, match="corruption 'background_noise' needs noise_dir: pass --noise-dir"):
        check_resources(RunConfig(corruptions=["background_noise"]))
    with pytest.raises(PlanError, match="noise_dir .*: no such folder"):
        check_folders(RunConfig(noise_dir=str(tmp_path / "missing")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PlanError, match="ir_dir .*: holds no audio file"):
        check_folders(RunConfig(ir_dir=str(tmp_path / "empty")))
    with pytest.raises(PlanError, match="policy 'noise' trains with white_noise, which --corruptions"):
        check_resources(RunConfig(policies=["noise"], corruptions=["gain"]))
    with pytest.raises(PlanError, match="unknown corruption 'gian'; did you mean 'gain'"):
        check_resources(RunConfig(corruptions=["gian"]))
    report = check_resources(RunConfig())
    assert report.notes and "background_noise (no noise_dir)" in report.notes[0]


def test_check_run_lists_every_problem_at_once_and_validates_the_config(tmp_path):
    config = RunConfig(
        models=["transfer", "conv1d"],
        policies=["none", "specaugment"],
        reference_model="vgg",
        training=TrainingConfig(model_options={"conv1d": {"kernal_size": 3}}),
    )
    with pytest.raises(PlanError) as caught:
        check_run(config)
    problems = caught.value.problems
    assert any("kernal_size" in p for p in problems) and any("needs an encoder" in p for p in problems)
    assert any("cannot train with policy 'specaugment'" in p for p in problems)
    assert any("reference model 'vgg'" in p for p in problems)
    with pytest.raises(ConfigError, match="policy_probability"):
        check_run(RunConfig(training=TrainingConfig(policy_probability=7)))
    assert isinstance(check_run(RunConfig()), plan.PlanReport)


def test_clip_length_bounds_are_the_analysis_window_and_what_a_batch_fits_in_memory():
    from keras_audio.suite.plan import TRAINING_BYTES_PER_SAMPLE, clip_length_problems

    config = RunConfig(sample_rate=16000, batch_size=32)
    memory = 2 * 32 * 16000 * 10 * TRAINING_BYTES_PER_SAMPLE  # half of it holds a batch of 10-s clips
    for seconds in (0.032, 2.0, 10.0):
        config.clip_seconds = seconds
        assert clip_length_problems(config, memory) == []
    config.clip_seconds = 0.031
    (problem,) = clip_length_problems(config, memory)
    assert "--clip-seconds 0.031 is 496 sample(s)" in problem and "0.032 or more" in problem
    config.clip_seconds = 10.5
    (problem,) = clip_length_problems(config, memory)
    assert "--clip-seconds 10.5: a training batch of 32 clips" in problem and "--clip-seconds 10 or less" in problem


def test_a_test_corpus_given_twice_is_refused():
    from keras_audio.suite.plan import check_test_corpora

    config = RunConfig(evaluation=EvaluationConfig(test_corpora=[CorpusSpec("csv", "/a"), CorpusSpec("csv", "/b")]))
    with pytest.raises(PlanError, match="--test-corpus csv is given 2 times"):
        check_test_corpora(config, None)
