"""Word-level transcripts: three file formats read into one typed list of `Word(start, end, text)`.

Formats, told apart by suffix and shape:

- **phrases** (``.json``, the reference's format): a list of phrases, each with ``terms``, each term with
  ``start`` and ``end`` (seconds) and ``text_normalized``; the other keys of phrases and terms are ignored;
- **words** (``.json``): a list of words, each with ``start``, ``end`` and ``text``;
- **CSV** (``.csv``): a header naming the columns ``start``, ``end`` and ``text`` (any order, other columns
  ignored), one word per row; quote a text that holds a comma.

Reading checks only the *shape* (keys present, times finite numbers, text a string) and raises
`TranscriptError` naming the file and the word. Whether the timings make sense (ordered, not overlapping,
inside the audio, not longer than a segment may be) is `segmentation.check_words`' job, since with
``skip_bad_words`` such words are reported and skipped rather than refused.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

FORMATS = ("phrases", "words", "csv")
CSV_COLUMNS = ("start", "end", "text")


@dataclasses.dataclass(frozen=True)
class Word:
    """One word of a transcript: its time span in the recording (seconds) and its text (stripped)."""

    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start

    def describe(self) -> str:
        """``'seven' at 12.340-12.900 s``: how error messages name a word."""
        return f"{self.text!r} at {self.start:.3f}-{self.end:.3f} s"


class TranscriptError(ValueError):
    """A transcript file that cannot be read, with the file and the word at fault.

    Attributes:
        path: the file.
        problem: what is wrong (``word 18: 'end' is missing``).
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def read_transcript(path: str | os.PathLike) -> list[Word]:
    """Read a ``.json`` (phrases or words) or ``.csv`` transcript into words, in file order.

    Raises:
        TranscriptError: missing or unreadable file, unknown suffix, malformed JSON or CSV, a word without
            a start, end or text, a time that is not a finite number.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise TranscriptError(
            path,
            f"unknown transcript format {path.suffix!r}; expected .json (phrases with "
            f"'terms', or words) or .csv (columns start,end,text)",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheet programs prepend a BOM to CSV
    except FileNotFoundError:
        raise TranscriptError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TranscriptError(path, f"cannot be read ({error})") from None
    if suffix == ".csv":
        return parse_csv(text, source=path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TranscriptError(path, f"not valid JSON ({error})") from None
    return parse_json(data, source=path)


def transcript_format(data: object) -> str:
    """``phrases`` or ``words``: the shape of a decoded JSON transcript (decided by its first entry)."""
    if not isinstance(data, list):
        raise ValueError(f"a JSON transcript must be a list (of phrases or of words), got {type(data).__name__}")
    if data and isinstance(data[0], Mapping) and "terms" in data[0]:
        return "phrases"
    return "words"


def parse_json(data: object, source: str | os.PathLike = "<json>") -> list[Word]:
    """Words from a decoded JSON transcript, either a list of phrases with ``terms`` or a list of words."""
    try:
        kind = transcript_format(data)
    except ValueError as error:
        raise TranscriptError(source, str(error)) from None
    if kind == "words":
        return [_word(entry, source, f"word {i + 1}", "text") for i, entry in enumerate(data)]
    words = []
    for p, phrase in enumerate(data):
        if not isinstance(phrase, Mapping) or not isinstance(phrase.get("terms"), list):
            raise TranscriptError(
                source, f"phrase {p + 1}: needs a list 'terms' (every entry must be a phrase once the first one is)"
            )
        for t, term in enumerate(phrase["terms"]):
            words.append(_word(term, source, f"phrase {p + 1} term {t + 1} (word {len(words) + 1})", "text_normalized"))
    return words


def parse_csv(text: str, source: str | os.PathLike = "<csv>") -> list[Word]:
    """Words from the text of a CSV with a ``start,end,text`` header."""
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise TranscriptError(
            source,
            f"CSV header must name the columns {','.join(CSV_COLUMNS)}; missing "
            f"{','.join(missing)} (header: {reader.fieldnames})",
        )
    words = []
    for i, row in enumerate(reader):
        where = f"row {i + 2} (word {i + 1})"  # row 1 is the header
        values = {}
        for key in ("start", "end"):
            try:
                values[key] = float(row[key])
            except (TypeError, ValueError):
                raise TranscriptError(source, f"{where}: {key} {row[key]!r} is not a number") from None
        words.append(_word({**values, "text": row["text"] or ""}, source, where, "text"))
    return words


def write_transcript(words: list[Word], path: str | os.PathLike, fmt: str = "phrases", phrase_gap: float = 1.0) -> None:
    """Write `words` in one of the three formats (`FORMATS`); for tests, benchmarks and conversions.

    Args:
        fmt: ``phrases`` (words grouped into phrases at pauses of at least `phrase_gap` seconds), ``words``
            or ``csv``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"transcript format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(path)
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows((repr(w.start), repr(w.end), w.text) for w in words)
        return
    if fmt == "words":
        data = [{"start": w.start, "end": w.end, "text": w.text} for w in words]
    else:
        data, previous = [], None
        for w in words:
            if previous is None or w.start - previous.end >= phrase_gap:
                data.append({"start": w.start, "end": w.end, "text": "", "terms": []})
            phrase = data[-1]
            phrase["terms"].append({"start": w.start, "end": w.end, "text": w.text, "text_normalized": w.text})
            phrase["end"] = w.end
            phrase["text"] = " ".join(t["text"] for t in phrase["terms"])
            previous = w
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _word(entry: object, source, where: str, text_key: str) -> Word:
    if not isinstance(entry, Mapping):
        raise TranscriptError(
            source, f"{where}: expected an object with start, end and {text_key}, got {type(entry).__name__}"
        )
    for key in ("start", "end", text_key):
        if key not in entry:
            raise TranscriptError(source, f"{where}: {key!r} is missing (keys: {', '.join(map(str, entry))})")
    text = entry[text_key]
    if text is None:
        text = ""  # an empty word: refused (or skipped) by check_words, with its time in the message
    if not isinstance(text, str):
        raise TranscriptError(source, f"{where}: {text_key} must be a string, got {text!r}")
    times = {}
    for key in ("start", "end"):
        value = entry[key]
        # bool is an int in Python: `true` as a time is a mistake, not 1 s.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise TranscriptError(
                source, f"{where} {text.strip()!r}: {key} {value!r} is not a finite number of seconds"
            )
        times[key] = float(value)
    return Word(times["start"], times["end"], text.strip())
