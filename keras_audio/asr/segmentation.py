"""Cut a word-timed transcript into segments no longer than a limit, at word boundaries. Pure functions.

A segment's length is its **span**: from its first word's start to its last word's end, pauses included —
the length of the audio it becomes. (Summing the words' durations instead, as the reference did, ignores the
pauses, so its "30-s" segments ran far longer than 30 s.)

The cut rule (`segment_words`), greedy from the first word of each segment:

1. the candidates are the cut points after a word such that the segment's span stays <= `max_seconds`;
2. among those whose span is also >= `min_fraction` × `max_seconds` (the last third of the window, by
   default), cut at the **longest pause** (gap to the next word); equal pauses: the later cut;
3. if none is that long (the next word lies past the limit early), cut at the last candidate;
4. the transcript's last word ends the last segment.

Each segment thus ends at a natural pause near the limit, never beyond it, and every word lands in exactly
one segment, in order.

`check_words` first finds the words no segmentation can honour: empty text, a word that ends at or before
its start (or starts before 0), runs past the end of the audio, lasts longer than the limit, starts before
the previous word (out of order) or before the previous word ends (overlap). It refuses the first with a
`WordError` naming the word and its time, or — with `skip_bad_words` — drops them and reports them. A dropped
word is a barrier, in the transcript's order and in time: no segment spans it, so no segment's audio holds a
word its text lacks. A kept word whose time overlaps a dropped word's is dropped with it ("overlaps the
skipped word ..."): the audio they share cannot be given to one and not the other, and cutting the kept word
short at the dropped word's edge would leave its text naming a word its audio holds only part of.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Sequence

from keras_audio.asr.transcript import Word

DEFAULT_MIN_FRACTION = 2 / 3
# Transcripts round times (often to 10 ms), so a last word may "end" just past the audio; the same 10 ms of
# slack as `audio.read_audio` allows a segment. Such an end is clamped to the audio's end.
END_SLACK_SECONDS = 0.010


@dataclasses.dataclass(frozen=True)
class WordProblem:
    """A word `check_words` refused or dropped.

    Attributes:
        index: its position in the transcript (0-based; messages count from 1).
        word: the word.
        reason: what is wrong, a phrase (``overlaps the previous word 'two' at 1.100-1.500 s``).
    """

    index: int
    word: Word
    reason: str

    def message(self) -> str:
        return f"word {self.index + 1} {self.word.describe()}: {self.reason}"

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "text": self.word.text,
            "start": self.word.start,
            "end": self.word.end,
            "reason": self.reason,
        }


class WordError(ValueError):
    """A word no segmentation can honour (`problems` holds every one found, the message names the first)."""

    def __init__(self, problems: Sequence[WordProblem], source: str | None = None):
        self.problems = tuple(problems)
        self.source = source
        more = len(self.problems) - 1
        tail = f" (and {more} more bad word{'s' if more > 1 else ''})" if more else ""
        where = f"{source}: " if source else ""
        super().__init__(
            f"{where}{self.problems[0].message()}{tail}; pass skip_bad_words (--skip-bad-words) to report and skip them"
        )


@dataclasses.dataclass(frozen=True)
class CheckedWords:
    """The outcome of `check_words`.

    Attributes:
        runs: the kept words, split at every dropped word (segments never cross a run's edge).
        dropped: the dropped words, in transcript order (empty unless `skip_bad_words`).
    """

    runs: tuple[tuple[Word, ...], ...]
    dropped: tuple[WordProblem, ...]

    @property
    def kept(self) -> int:
        return sum(len(run) for run in self.runs)


@dataclasses.dataclass(frozen=True)
class Segment:
    """Consecutive words cut out together.

    Attributes:
        index: 0-based position among all segments of the recording.
        words: the words, in order.
    """

    index: int
    words: tuple[Word, ...]

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def span(self) -> float:
        """First word's start to last word's end, pauses included: what the limit bounds."""
        return self.end - self.start

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def check_words(
    words: Sequence[Word], max_seconds: float, audio_seconds: float | None = None, skip_bad_words: bool = False
) -> CheckedWords:
    """Find the words no segmentation can honour; refuse them, or drop them and split around them.

    Each word is compared with the last word *kept*, so one misplaced word is one problem, not two.

    Args:
        words: the transcript, in file order.
        max_seconds: the segment limit; a longer word is a problem.
        audio_seconds: the recording's length; a word ending more than 10 ms past it is a problem (None: not
            checked).
        skip_bad_words: drop and report problems instead of raising.

    Raises:
        WordError: a problem was found and `skip_bad_words` is False; the message names the first word and
            its time.
        ValueError: `max_seconds` or `audio_seconds` is not a positive finite number.
    """
    _check_limit(max_seconds)
    if audio_seconds is not None and not (math.isfinite(audio_seconds) and audio_seconds > 0):
        raise ValueError(f"audio_seconds must be a positive finite number, got {audio_seconds!r}")
    problems: list[WordProblem] = []
    kept: list[tuple[int, Word]] = []
    previous: Word | None = None
    for index, word in enumerate(words):
        reason = _problem(word, previous, max_seconds, audio_seconds)
        if reason is None:
            kept.append((index, word))
            previous = word
        else:
            problems.append(WordProblem(index, word, reason))
    if problems and not skip_bad_words:
        raise WordError(problems)
    # The audio of a dropped word (where it has any) must stay out of every segment: a kept word sharing
    # some of it goes too, and a segment never continues across it (see the module docstring).
    dropped_audio = _SpanIndex([p.word for p in problems], audio_seconds)
    dropped_at = [p.index for p in problems]  # ascending
    runs: list[list[Word]] = []
    last: tuple[int, Word] | None = None
    for index, word in kept:
        hit = dropped_audio.first(word.start, word.end)
        if hit is not None:
            problems.append(WordProblem(index, word, f"overlaps the skipped word {hit.describe()}"))
            last = None  # a barrier in the transcript's order as well
            continue
        if (
            last is None
            or bisect.bisect_left(dropped_at, last[0]) != bisect.bisect_left(dropped_at, index)
            or dropped_audio.first(last[1].end, word.start) is not None
        ):
            runs.append([])
        runs[-1].append(word)
        last = (index, word)
    problems.sort(key=lambda p: p.index)
    return CheckedWords(tuple(tuple(run) for run in runs), tuple(problems))


def segment_words(
    words: Sequence[Word], max_seconds: float, min_fraction: float = DEFAULT_MIN_FRACTION, first_index: int = 0
) -> list[Segment]:
    """Cut one run of valid words (as `check_words` keeps them) into segments by the module's rule.

    Args:
        words: ordered, non-overlapping words, each no longer than `max_seconds`.
        max_seconds: no segment's span exceeds this.
        min_fraction: cuts are sought among spans of at least this fraction of `max_seconds`, in [0, 1].
        first_index: the index of the first segment (to number several runs consecutively).

    Raises:
        ValueError: bad settings, or words that are unordered, overlapping or too long (run `check_words`).
    """
    _check_limit(max_seconds)
    if not (isinstance(min_fraction, (int, float)) and 0.0 <= min_fraction <= 1.0):
        raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction!r}")
    for i, word in enumerate(words):
        reason = _problem(word, words[i - 1] if i else None, max_seconds, None)
        if reason is not None:
            raise WordError([WordProblem(i, word, reason)])
    segments = []
    first = 0
    while first < len(words):
        last = _cut_after(words, first, max_seconds, min_fraction)
        segments.append(Segment(first_index + len(segments), tuple(words[first : last + 1])))
        first = last + 1
    return segments


def segment_runs(
    runs: Sequence[Sequence[Word]], max_seconds: float, min_fraction: float = DEFAULT_MIN_FRACTION
) -> list[Segment]:
    """`segment_words` over each run of `CheckedWords.runs`, segments numbered across runs."""
    segments: list[Segment] = []
    for run in runs:
        segments += segment_words(run, max_seconds, min_fraction, first_index=len(segments))
    return segments


def _cut_after(words: Sequence[Word], first: int, max_seconds: float, min_fraction: float) -> int:
    """The index of the last word of the segment that starts at `words[first]`."""
    start = words[first].start
    last_fitting = first
    while last_fitting + 1 < len(words) and words[last_fitting + 1].end - start <= max_seconds:
        last_fitting += 1
    if last_fitting == len(words) - 1:
        return last_fitting
    best, best_pause = last_fitting, -math.inf
    for j in range(first, last_fitting + 1):
        if words[j].end - start < min_fraction * max_seconds:
            continue
        pause = words[j + 1].start - words[j].end
        if pause >= best_pause:  # >=: of equal pauses, the later cut (the longer segment)
            best, best_pause = j, pause
    return best


def _problem(word: Word, previous: Word | None, max_seconds: float, audio_seconds: float | None) -> str | None:
    """What is wrong with `word` given the last word kept before it, or None."""
    if not word.text:
        return "empty text"
    if word.start < 0:
        return "starts before 0 s"
    if word.end <= word.start:
        return "ends at or before its start"
    if audio_seconds is not None and (word.end > audio_seconds + END_SLACK_SECONDS or word.start >= audio_seconds):
        return f"runs past the end of the audio ({audio_seconds:.3f} s)"
    if word.duration > max_seconds:
        return f"lasts {word.duration:.3f} s, longer than the segment limit of {max_seconds:g} s"
    if previous is not None and word.start < previous.start:
        return f"starts before the previous word {previous.describe()} (timings out of order)"
    if previous is not None and word.start < previous.end:
        return f"overlaps the previous word {previous.describe()}"
    return None


class _SpanIndex:
    """The audio spans of dropped words, queried for one that overlaps an interval."""

    def __init__(self, words: Sequence[Word], audio_seconds: float | None):
        # A word's audio: its span clipped to the recording; a word without one (ends at or before its start,
        # or lies past the end) holds no audio.
        spans = sorted(
            (max(w.start, 0.0), w.end if audio_seconds is None else min(w.end, audio_seconds), i)
            for i, w in enumerate(words)
        )
        spans = [span for span in spans if span[1] > span[0]]
        self._words = words
        self._starts = [start for start, _, _ in spans]
        self._latest: list[tuple[float, int]] = []  # (latest end, its word) among the spans up to each one
        for _, end, i in spans:
            self._latest.append(max(self._latest[-1], (end, i)) if self._latest else (end, i))

    def first(self, start: float, end: float) -> Word | None:
        """A dropped word whose audio overlaps `(start, end)` (a positive-length overlap), or None."""
        count = bisect.bisect_left(self._starts, end)  # the spans that start before `end`
        if count == 0:
            return None
        latest, i = self._latest[count - 1]
        return self._words[i] if latest > start else None


def _check_limit(max_seconds: float) -> None:
    if (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or not (math.isfinite(max_seconds) and max_seconds > 0)
    ):
        raise ValueError(f"max_seconds must be a positive finite number, got {max_seconds!r}")
