"""ASR data preparation on a long recording of real speech, against the reference's cutting rule.

Builds a recording of about `--minutes` (default 10) by joining real spoken-digit recordings with seeded
random pauses (short ones between words, now and then a longer one between "sentences"), each clip trimmed
to its speech so that a word's timing is where it is heard; writes the transcript in the reference's
JSON format (phrases with ``terms``: ``start``, ``end``, ``text_normalized``); runs `prepare_asr`; prints the
segments' count and durations and the time taken, and what the reference's rule would have made of it:
the reference sums the *words' durations* to decide where to cut, so the pauses are not counted and a
"30-s" segment's audio (first word's start to last word's end) runs longer.

    python benchmarks/asr_prep.py                      # FSDD (8 kHz, English digits), 10 minutes
    python benchmarks/asr_prep.py --corpus audiomnist_az --augment ""
    python benchmarks/asr_prep.py --out /tmp/asr       # keep the recording and the prepared folder

Needs ../shared/data/fsdd/recordings (``{digit}_{speaker}_{n}.wav``) or
../shared/data/audiomnist_az/data/*/*.flac (Azerbaijani digit names).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_audio.asr import prepare_asr  # noqa: E402
from keras_audio.asr.segmentation import Segment, segment_words  # noqa: E402
from keras_audio.asr.transcript import Word, write_transcript  # noqa: E402
from keras_audio.audio import read_audio, write_wav  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPORA = {
    # name -> (files, rate, digit names)
    "fsdd": (
        "fsdd/recordings/*.wav",
        8000,
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    ),
    "audiomnist_az": (
        "audiomnist_az/data/*/*.flac",
        16000,
        ("sıfır", "bir", "iki", "üç", "dörd", "beş", "altı", "yeddi", "səkkiz", "doqquz"),
    ),
}
WORD_PAUSE = (0.08, 0.6)  # seconds between words of a sentence
SENTENCE_PAUSE = (0.8, 2.5)  # ... and between sentences
SENTENCE_ODDS = 0.15


def build_recording(corpus: str, minutes: float, seed: int, data: Path = SHARED) -> tuple[np.ndarray, int, list[Word]]:
    """`(waveform, rate, words)`: trimmed digit clips joined with seeded pauses until `minutes` is reached."""
    import librosa

    pattern, rate, names = CORPORA[corpus]
    files = sorted(data.glob(pattern))
    if not files:
        raise SystemExit(f"no recordings at {data / pattern}; see ../shared/data/README.md")
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(int(0.5 * rate), np.float32)]
    position, words = pieces[0].size, []
    while position < minutes * 60 * rate:
        path = files[int(rng.integers(len(files)))]
        clip = read_audio(path, rate)
        clip, _ = librosa.effects.trim(y=clip, top_db=30)
        words.append(Word(position / rate, (position + clip.size) / rate, names[int(path.name.split("_")[0])]))
        span = SENTENCE_PAUSE if rng.random() < SENTENCE_ODDS else WORD_PAUSE
        pause = np.zeros(int(rng.uniform(*span) * rate), np.float32)
        pieces += [clip, pause]
        position += clip.size + pause.size
    waveform = np.concatenate(pieces)
    return waveform / max(1.0, float(np.max(np.abs(waveform))) / 0.99), rate, words


def reference_segments(words: list[Word], max_seconds: float) -> list[Segment]:
    """The reference's rule: start a new segment when the *sum of word durations* would pass the limit."""
    segments, current, total = [], [], 0.0
    for word in words:
        if current and total + word.duration > max_seconds:
            segments.append(Segment(len(segments), tuple(current)))
            current, total = [], 0.0
        current.append(word)
        total += word.duration
    if current:
        segments.append(Segment(len(segments), tuple(current)))
    return segments


def describe(durations: list[float]) -> str:
    return f"min {min(durations):.1f} s, median {statistics.median(durations):.1f} s, max {max(durations):.1f} s"


def mean_cut_pause(segments: list[Segment], words: list[Word]) -> float:
    """Mean pause (s) at the cuts between segments: longer means cuts fall between sentences."""
    following = {w: words[i + 1] for i, w in enumerate(words[:-1])}
    pauses = [following[s.words[-1]].start - s.end for s in segments[:-1]]
    return float(np.mean(pauses)) if pauses else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="fsdd")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--augment", default="noise,pitch_shift")
    parser.add_argument("--severity", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the recording and the prepared folder here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    waveform, rate, words = build_recording(args.corpus, args.minutes, args.seed)
    built = time.perf_counter() - started
    work = args.out or Path(tempfile.mkdtemp(prefix="asr_prep-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        write_wav(work / "recording.wav", waveform, rate)  # 16-bit PCM at the corpus' rate, as recorded
        write_transcript(words, work / "recording.json", "phrases", phrase_gap=SENTENCE_PAUSE[0])
        speech = sum(w.duration for w in words) / (waveform.size / rate)
        print(
            f"recording: {waveform.size / rate / 60:.1f} min at {rate} Hz, {len(words)} words from "
            f"{args.corpus}, speech {speech:.0%} of the time (built in {built:.1f} s)"
        )
        summary = prepare_asr(
            work / "recording.wav",
            work / "recording.json",
            work / "prepared",
            max_seconds=args.max_seconds,
            augment=args.augment,
            severity=args.severity,
            seed=args.seed,
            plot=True,
            progress=False,
        )
        ours = segment_words(words, args.max_seconds)
        spans = [s.span for s in ours]
        assert len(ours) == summary.segments and max(spans) <= args.max_seconds
        assert [w for s in ours for w in s.words] == words
        print(
            f"prepare_asr: {summary.segments} segments ({describe(spans)}), {summary.total_seconds:.1f} s "
            f"of audio in segments, {summary.files} WAV + log-mel files (augment: "
            f"{', '.join(summary.augment) or 'none'}) in {summary.seconds_taken:.1f} s "
            f"({waveform.size / rate / summary.seconds_taken:.0f}x real time)"
        )
        greedy = segment_words(words, args.max_seconds, min_fraction=1.0)
        print(
            f"  mean pause at a cut: {mean_cut_pause(ours, words):.2f} s (longest pause in the last third); "
            f"{mean_cut_pause(greedy, words):.2f} s cutting at the last word that fits "
            f"({len(greedy)} segments)"
        )
        reference = reference_segments(words, args.max_seconds)
        reference_spans = [s.span for s in reference]
        longer = [d for d in reference_spans if d > args.max_seconds]
        print(
            f"reference rule (sum of word durations <= {args.max_seconds:g} s): {len(reference)} segments, "
            f"spans {describe(reference_spans)}; {len(longer)} of {len(reference)} longer than "
            f"{args.max_seconds:g} s (longest {max(reference_spans):.1f} s)"
        )
        if args.out:
            print(f"kept: {work}")
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
