"""benchmarks/pretrained.py: folds that keep every source recording on one side, the commands it runs, and the
summary it reads back from a run's table.csv."""

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_modules import load_benchmark  # noqa: E402

from keras_audio.suite.tables import LONG_COLUMNS  # noqa: E402

pretrained = load_benchmark("pretrained")


def _esc50_layout(root: Path) -> None:
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    with open(root / "meta" / "esc50_fold4.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        for c, category in enumerate(["dog", "rain", "clock"]):
            for source in range(5):
                for take in "AB":
                    name = f"4-{c}{source}-{take}-{c}.flac"
                    writer.writerow([name, 4, c, category, False, f"{c}{source}", take])


def test_folds_keep_each_source_recording_in_one_fold_and_spread_every_class(tmp_path):
    _esc50_layout(tmp_path / "esc")
    manifest = pretrained.esc50_folds(tmp_path / "esc", tmp_path / "out", folds=5)
    rows = list(csv.DictReader(open(manifest)))
    assert len(rows) == 30 and {r["fold"] for r in rows} == {"1", "2", "3", "4", "5"}
    for source in {r["speaker"] for r in rows}:
        assert len({r["fold"] for r in rows if r["speaker"] == source}) == 1
    for label in ("dog", "rain", "clock"):  # five recordings of each class over five folds: one in each
        fold_of_source = {r["speaker"]: r["fold"] for r in rows if r["label"] == label}
        assert sorted(fold_of_source.values()) == ["1", "2", "3", "4", "5"]
    assert all(Path(r["path"]).is_absolute() for r in rows)


def _write_table(run, rows, seed=0):
    run.mkdir(parents=True)
    with open(run / "table.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LONG_COLUMNS)
        writer.writeheader()
        for model, policy, corruption, severity, accuracy, balanced, test in rows:
            writer.writerow(
                dict(
                    model=model,
                    policy=policy,
                    seed=seed,
                    fold="",
                    corruption=corruption,
                    severity=severity,
                    accuracy=accuracy,
                    balanced_accuracy=balanced,
                    n=10,
                    ci_low=0,
                    ci_high=1,
                    test_corpus=test,
                )
            )


def test_summary_reads_each_model_and_test_set_from_table_csv(tmp_path):
    rows = [
        ("ge2e", "none", "clean", 0, 0.9, 0.8, "in-domain"),
        ("ge2e", "none", "white_noise", 3, 0.5, 0.5, "in-domain"),
        ("ge2e", "none", "speed", 3, 0.7, 0.6, "in-domain"),
        ("ge2e", "none", "clean", 0, 0.6, 0.7, "audiomnist"),
    ]
    run = tmp_path / "run"
    _write_table(run, rows)
    summary = {s["test"]: s for s in pretrained.summary(run)}
    assert summary["in-domain"]["clean"] == 0.9 and summary["in-domain"]["balanced"] == 0.8
    assert abs(summary["in-domain"]["spoiled"] - 0.6) < 1e-12
    assert summary["in-domain"]["worst"] == "white_noise (0.500)"
    assert summary["audiomnist"]["balanced"] == 0.7 and summary["audiomnist"]["worst"] == "—"


def test_dry_run_lists_the_commands_of_every_part_without_running_them(tmp_path, capsys, monkeypatch):
    shared = tmp_path / "shared"
    for name in (pretrained.AUDIOMNIST, pretrained.ESC50):
        (shared / name).mkdir(parents=True)
    monkeypatch.setattr(pretrained.paths, "shared_data_dir", lambda: shared)
    assert pretrained.main(["--dry-run", "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["run"] + ["evaluate"] * 6 + ["run"] * 7
    assert "--models conv2d ge2e ge2e_finetune --policies none suite" in lines[0]
    assert sum("models/ge2e_finetune-" in line for line in lines[1:7]) == 2
    splits = [line for line in lines if "audiomnist-splits" in line]
    assert [line.split("--seed ")[1].split()[0] for line in splits] == ["0", "1", "2", "3", "4"]
    assert all(f"--data-dir {shared.resolve() / pretrained.AUDIOMNIST} " in line for line in splits)
    assert "--cross-validation --allow-missing-classes" in lines[-1]
    assert not (tmp_path / "out").exists()


def test_the_splits_table_gives_each_seed_and_the_mean_and_sd_and_parts_keep_to_their_runs(tmp_path):
    out = tmp_path / "out"
    for seed, (conv, ge2e) in enumerate([(0.8, 0.9), (0.6, 0.7)]):
        _write_table(
            out / f"audiomnist-splits-seed{seed}",
            [
                ("conv2d", "none", "clean", 0, conv, conv, "in-domain"),
                ("conv2d", "none", "white_noise", 3, 0.3, 0.5, "in-domain"),
                ("ge2e", "none", "clean", 0, ge2e, ge2e, "in-domain"),
                ("ge2e", "none", "white_noise", 3, 0.5, 0.5, "in-domain"),
            ],
            seed=seed,
        )
    _write_table(out / "audiomnist", [("ge2e", "none", "clean", 0, 0.1, 0.1, "in-domain")])
    lines = pretrained.splits_table([out / "audiomnist-splits-seed0", out / "audiomnist-splits-seed1"])
    assert lines[0].startswith("| model | policy | clean balanced, per seed (0, 1) |")
    assert lines[2] == "| conv2d | none | 0.800 0.600 | 0.700 ± 0.141 | 0.700 ± 0.141 | 0.300 ± 0.000 |"
    assert lines[3].startswith("| ge2e | none | 0.900 0.700 | 0.800 ± 0.141 |")
    ran = {
        "audiomnist": [["run", "--run-name", "audiomnist"]],
        "audiomnist-splits": [["run", "--run-name", f"audiomnist-splits-seed{s}"] for s in (0, 1)],
    }
    text = pretrained.report(out, ["audiomnist", "audiomnist-splits"], ran)
    audiomnist = text[: text.index("## audiomnist-splits")]
    assert "**audiomnist**" in audiomnist and "audiomnist-splits-seed0**" not in audiomnist
    assert "| ge2e | none | 0.900 0.700 | 0.800 ± 0.141 |" in text[text.index("## audiomnist-splits") :]
