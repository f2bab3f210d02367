"""prepare_asr end to end on generated speech with known word timings: segments, manifest, copies, features."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.io import wavfile

from keras_audio.asr import prepare as prepare_module
from keras_audio.asr.frames import frame_settings
from keras_audio.asr.prepare import prepare_asr, sample_bounds, segment_id
from keras_audio.asr.segmentation import Segment, WordError
from keras_audio.asr.transcript import TranscriptError, Word, write_transcript
from keras_audio.audio import AudioError, read_audio
from tests.asr.recordings import recording

LIMIT = 8.0
RATE = 16000


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """A ~50-s recording of 40 words (float WAV, 16 kHz), its transcript, and one preparation of it."""
    root = tmp_path_factory.mktemp("talk")
    waveform, words = recording(words=40, sample_rate=RATE, seed=3)
    sf.write(root / "talk.wav", waveform, RATE, subtype="FLOAT")
    write_transcript(words, root / "talk.json", "phrases")
    summary = prepare_asr(
        root / "talk.wav",
        root / "talk.json",
        root / "out",
        max_seconds=LIMIT,
        augment="noise,pitch_shift",
        severity=3,
        seed=5,
        plot=True,
        progress=False,
    )
    return {"root": root, "waveform": waveform, "words": words, "summary": summary, "out": root / "out"}


def test_spans_stay_within_the_limit_and_every_word_lands_in_exactly_one_segment(talk):
    rows = [r for r in _manifest(talk["out"]) if r["corruption"] is None]
    assert len(rows) == talk["summary"].segments > 4
    assert all(r["end"] - r["start"] <= LIMIT and r["samples"] <= LIMIT * RATE for r in rows)
    for word in talk["words"]:
        holders = [r for r in rows if r["start"] <= word.start and word.end <= r["end"]]
        assert len(holders) == 1
    assert " ".join(r["text"] for r in rows) == " ".join(w.text for w in talk["words"])
    for row in rows:  # the text is exactly the words inside the span, in order
        inside = [w.text for w in talk["words"] if row["start"] <= w.start and w.end <= row["end"]]
        assert row["text"] == " ".join(inside)


def test_segment_audio_is_exactly_the_source_samples(talk):
    for row in _manifest(talk["out"]):
        if row["corruption"] is not None:
            continue
        rate, audio = wavfile.read(talk["out"] / row["audio"])
        first = round(row["start"] * RATE)
        assert rate == RATE and audio.dtype == np.float32
        assert np.array_equal(audio, talk["waveform"][first : round(row["end"] * RATE)])
        assert row["first_sample"] == first and row["duration"] == audio.size / RATE
        assert Path(row["source"]) == talk["root"] / "talk.wav"


def test_spoiled_copies_are_recorded_with_corruption_severity_and_seed(talk):
    rows = _manifest(talk["out"])
    clean = {r["segment"]: r for r in rows if r["corruption"] is None}
    spoiled = [r for r in rows if r["corruption"] is not None]
    assert sorted({r["corruption"] for r in spoiled}) == ["pitch_shift", "white_noise"]
    assert len(spoiled) == 2 * len(clean) == talk["summary"].files - len(clean)
    for row in spoiled:
        original = clean[row["segment"]]
        assert (row["severity"], row["seed"], len(row["clip_seed"])) == (3, 5, 2)
        assert row["id"] == f"{row['segment']}.{row['corruption']}-s3"
        assert {k: row[k] for k in ("text", "start", "end", "samples")} == {
            k: original[k] for k in ("text", "start", "end", "samples")
        }
        a, b = wavfile.read(talk["out"] / row["audio"])[1], wavfile.read(talk["out"] / original["audio"])[1]
        assert a.shape == b.shape and not np.array_equal(a, b)


def test_features_are_the_layers_log_mel_of_each_file(talk):
    layer = frame_settings(RATE).layer()
    for row in _manifest(talk["out"])[::5]:
        features = np.load(talk["out"] / row["features"])
        audio = wavfile.read(talk["out"] / row["audio"])[1]
        assert features.shape == (1 + row["samples"] // 160, 80) == (row["frames"], 80)
        assert np.array_equal(features, layer(audio[None])[0].numpy())


def test_summary_counts_durations_and_settings(talk):
    summary = json.loads((talk["out"] / "summary.json").read_text())
    rows = [r for r in _manifest(talk["out"]) if r["corruption"] is None]
    assert summary["segments"] == len(rows) and summary["words"] == summary["words_kept"] == 40
    assert summary["total_seconds"] == pytest.approx(sum(r["duration"] for r in rows))
    assert summary["longest_seconds"] == max(r["duration"] for r in rows) <= LIMIT
    assert summary["words_dropped"] == 0 and summary["dropped"] == []
    assert summary["augment"] == ["white_noise", "pitch_shift"] and summary["severity"] == 3
    assert summary["features"] == {
        "sample_rate": 16000,
        "n_fft": 512,
        "win_length": 400,
        "hop_length": 160,
        "n_mels": 80,
    }
    assert summary["wav_subtype"] == "FLOAT"
    assert f"{len(rows)} segments of at most 8 s" in talk["summary"].describe()
    assert (talk["out"] / "segments.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in talk["root"].iterdir() if ".partial-" in p.name]


@pytest.mark.slow
def test_the_same_seed_gives_identical_files_and_another_seed_other_copies(talk, tmp_path):
    args = (talk["root"] / "talk.wav", talk["root"] / "talk.json")
    again = prepare_asr(
        *args,
        tmp_path / "again",
        max_seconds=LIMIT,
        augment="noise,pitch_shift",
        severity=3,
        seed=5,
        plot=True,
        progress=False,
    )
    assert _files(again.out_dir) == _files(talk["out"])
    other = _files(
        prepare_asr(
            *args, tmp_path / "other", max_seconds=LIMIT, augment="noise", severity=3, seed=6, progress=False
        ).out_dir
    )
    first = _files(talk["out"])
    for name, content in other.items():
        if name.startswith(("audio/", "features/")):
            assert (content == first[name]) == ("white_noise" not in name), name


def test_a_resampled_recording_gives_the_resampled_samples(tmp_path):
    waveform, words = recording(words=6, sample_rate=8000, seed=1)
    sf.write(tmp_path / "low.flac", waveform, 8000)  # 16-bit FLAC at 8 kHz, read back at 16 kHz
    write_transcript(words, tmp_path / "low.csv", "csv")
    summary = prepare_asr(
        tmp_path / "low.flac", tmp_path / "low.csv", tmp_path / "out", max_seconds=3.0, progress=False
    )
    source = read_audio(tmp_path / "low.flac", RATE, max_seconds=None)
    for row in _manifest(summary.out_dir):
        audio = wavfile.read(summary.out_dir / row["audio"])[1]
        assert np.array_equal(audio, source[row["first_sample"] : row["first_sample"] + row["samples"]])
        assert row["first_sample"] == round(row["start"] * RATE)


def test_the_three_transcript_formats_give_the_same_manifest(tmp_path):
    waveform, words = recording(words=6, sample_rate=RATE, seed=2)
    sf.write(tmp_path / "a.wav", waveform, RATE, subtype="FLOAT")
    manifests = []
    for fmt, suffix in (("phrases", ".json"), ("words", ".json"), ("csv", ".csv")):
        write_transcript(words, tmp_path / f"{fmt}{suffix}", fmt)
        out = prepare_asr(
            tmp_path / "a.wav", tmp_path / f"{fmt}{suffix}", tmp_path / fmt, max_seconds=3.0, progress=False
        ).out_dir
        manifests.append((out / "manifest.jsonl").read_text())
    assert manifests[0] == manifests[1] == manifests[2]


@pytest.fixture
def short(tmp_path):
    """A 6-word recording and a function writing a transcript with one word replaced."""
    waveform, words = recording(words=6, sample_rate=RATE, seed=4)
    sf.write(tmp_path / "short.wav", waveform, RATE, subtype="FLOAT")

    def transcript(index=None, word=None, name="t.json"):
        changed = list(words)
        if index is not None:
            changed[index] = word
        write_transcript(changed, tmp_path / name, "words")
        return tmp_path / name

    return tmp_path, words, waveform.size / RATE, transcript


@pytest.mark.parametrize("case", ["empty", "overlap", "unordered", "past_end", "too_long", "no_duration"])
def test_each_bad_word_is_refused_naming_the_word_and_nothing_is_written(short, case):
    root, words, seconds, transcript = short
    w = words[3]
    bad, reason = {
        "empty": (Word(w.start, w.end, ""), "empty text"),
        "overlap": (Word(words[2].end - 0.01, w.end, w.text), "overlaps the previous word"),
        "unordered": (Word(words[1].start - 0.01, words[1].start, w.text), "out of order"),
        "past_end": (Word(w.start, seconds + 1.0, w.text), "runs past the end of the audio"),
        "too_long": (Word(w.start, w.start + 3.5, w.text), "longer than the segment limit of 3 s"),
        "no_duration": (Word(w.start, w.start, w.text), "ends at or before its start"),
    }[case]
    path = transcript(3, bad)
    with pytest.raises(WordError, match=f"t.json: word 4 {bad.text!r} at {bad.start:.3f}-{bad.end:.3f} s: .*{reason}"):
        prepare_asr(root / "short.wav", path, root / "out", max_seconds=3.0, progress=False)
    assert sorted(p.name for p in root.iterdir()) == ["short.wav", "t.json"]


def test_skipped_words_are_reported_and_left_out(short):
    root, words, seconds, transcript = short
    path = transcript(2, Word(words[2].start, words[2].end, "  "))
    summary = prepare_asr(root / "short.wav", path, root / "out", max_seconds=30.0, skip_bad_words=True, progress=False)
    assert summary.words == 6 and summary.words_kept == 5 and [p.index for p in summary.dropped] == [2]
    assert f"skipped word 3 '' at {words[2].start:.3f}" in summary.describe()
    record = json.loads((summary.out_dir / "summary.json").read_text())
    assert record["words_dropped"] == 1 and record["dropped"][0]["reason"] == "empty text"
    rows = _manifest(summary.out_dir)
    assert [r["text"] for r in rows] == [" ".join(w.text for w in words[:2]), " ".join(w.text for w in words[3:])]
    assert rows[0]["end"] <= words[2].start and rows[1]["start"] >= words[2].end  # no segment spans it


def test_no_segment_holds_audio_of_a_skipped_word(short):
    """An overlapping word is skipped; the word it overlaps goes with it, since their shared audio cannot be
    given to one alone (cutting the kept word at the skipped word's start would cut that word short)."""
    root, words, seconds, transcript = short
    bad = Word(words[2].end - 0.3, words[3].end, words[3].text)  # its first 0.3 s lie inside word 3
    path = transcript(3, bad)
    summary = prepare_asr(root / "short.wav", path, root / "out", max_seconds=30.0, skip_bad_words=True, progress=False)
    assert [(p.index, p.reason) for p in summary.dropped] == [
        (2, f"overlaps the skipped word {bad.describe()}"),
        (3, f"overlaps the previous word {words[2].describe()}"),
    ]
    assert (
        summary.words_kept == 4
        and f"skipped word 3 {words[2].describe()}: overlaps the skipped word" in summary.describe()
    )
    rows = _manifest(summary.out_dir)
    assert [r["text"] for r in rows] == [" ".join(w.text for w in words[:2]), " ".join(w.text for w in words[4:])]
    for row in rows:  # each segment's audio [first_sample, + samples) lies clear of every skipped word
        first, stop = row["first_sample"], row["first_sample"] + row["samples"]
        for dropped in summary.dropped:
            assert stop <= round(dropped.word.start * RATE) or first >= round(dropped.word.end * RATE), (row, dropped)


def test_a_skipped_word_out_of_order_splits_the_segment_whose_pause_holds_it(short):
    root, words, seconds, transcript = short
    pause = (words[3].end, words[4].start)  # a word timed inside a later pause, listed earlier
    bad = Word(pause[0] + 0.01, min(pause[0] + 0.2, pause[1] - 0.01), "stray")
    changed = list(words[:2]) + list(words[3:]) + [bad]
    write_transcript(changed, root / "stray.json", "words")
    summary = prepare_asr(
        root / "short.wav", root / "stray.json", root / "out", max_seconds=30.0, skip_bad_words=True, progress=False
    )
    assert [p.word.text for p in summary.dropped] == ["stray"] and summary.words_kept == 5
    rows = _manifest(summary.out_dir)
    assert [r["text"] for r in rows] == [
        " ".join(w.text for w in words[:2] + words[3:4]),
        " ".join(w.text for w in words[4:]),
    ]
    assert rows[0]["end"] <= bad.start and rows[1]["start"] >= bad.end


def test_out_dir_must_be_absent_or_empty(short):
    root, _, _, transcript = short
    path = transcript()
    (root / "full").mkdir()
    (root / "full" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="full: exists and is not empty"):
        prepare_asr(root / "short.wav", path, root / "full", progress=False)
    assert (root / "full" / "keep.txt").read_text() == "mine"
    (root / "empty").mkdir()
    assert prepare_asr(root / "short.wav", path, root / "empty", progress=False).segments == 1
    with pytest.raises(FileExistsError, match="is not a folder"):
        prepare_asr(root / "short.wav", path, root / "short.wav", progress=False)


def test_a_failure_while_writing_leaves_nothing_behind(short, monkeypatch):
    root, _, _, transcript = short
    path = transcript()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(prepare_module.augmentation, "spoil", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        prepare_asr(root / "short.wav", path, root / "out", augment="noise", progress=False)
    assert sorted(p.name for p in root.iterdir()) == ["short.wav", "t.json"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"max_seconds": 0}, ValueError, "max_seconds must be a positive number, got 0"),
        ({"sample_rate": 16000.0}, ValueError, "sample_rate must be a positive int"),
        ({"severity": 6}, ValueError, r"severity must be an int in 1..5, got 6"),
        ({"seed": -1}, ValueError, "seed must be a non-negative int"),
        ({"augment": "noise,speed"}, ValueError, "augmentation 'speed' cannot spoil ASR segments"),
        ({"augment": "babble"}, ValueError, "'babble' needs babble_waveforms"),
        ({"n_mels": 0}, ValueError, "n_mels must be a positive int"),
        ({"min_fraction": 2.0}, ValueError, "min_fraction must be in"),
    ],
)
def test_bad_settings_are_refused_by_name(short, kwargs, error, match):
    root, _, _, transcript = short
    with pytest.raises(error, match=match):
        prepare_asr(root / "short.wav", transcript(), root / "out", progress=False, **kwargs)
    assert not (root / "out").exists()


def test_unreadable_inputs_name_the_file(short):
    root, _, _, transcript = short
    (root / "empty.json").write_text("[]")
    with pytest.raises(TranscriptError, match="empty.json: holds no words"):
        prepare_asr(root / "short.wav", root / "empty.json", root / "out", progress=False)
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        prepare_asr(root / "missing.wav", transcript(), root / "out", progress=False)


def test_segment_ids_and_sample_bounds():
    assert segment_id("/data/My talk (2).wav", 7) == "My_talk__2__00007"
    segment = Segment(0, (Word(1.00003125, 2.5, "a"),))
    assert sample_bounds(segment, 16000, 100000) == (16000, 40000)  # 16000.5 rounds half up
    assert sample_bounds(Segment(0, (Word(5.0, 6.25, "a"),)), 16000, 90000) == (80000, 90000)  # end clamped


def test_a_transcript_of_only_bad_words_is_refused_even_when_skipping(short):
    root, words, _, _ = short
    write_transcript([Word(w.start, w.end, "") for w in words], root / "blank.json", "words")
    with pytest.raises(
        TranscriptError,
        match=r"blank.json: no words left after skipping 6 bad ones \(the first: "
        r"word 1 '' at",
    ):
        prepare_asr(root / "short.wav", root / "blank.json", root / "out", skip_bad_words=True, progress=False)
