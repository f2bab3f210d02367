"""TIMIT (LDC93S1): speaker gender (default) or dialect region from the LDC layout.

Layout: ``TRAIN/DR1/FCJF0/SA1.WAV`` (+ ``.PHN``, ``.WRD``, ``.TXT``), ``TEST/...`` and ``DOC/SPKRINFO.TXT``
(copies that put the tree under ``data/`` or ``TIMIT/`` and the DOC files beside it, as Kaggle's does, work
too).
The ``.WAV`` files are NIST SPHERE, not RIFF: `tf.audio.decode_wav` cannot read them; decoding goes through
`keras_audio.audio` (libsndfile reads SPHERE with PCM samples, as LDC ships it; a copy whose SPHERE files are
shorten-compressed must be converted first, e.g. with ``sph2pipe``: the decode step lists such files as bad).

How the corpus is read. `timit-utils` 0.9.0 walks the tree, but it breaks on real-world copies: a stray file
in ``TRAIN/`` or a region folder (it lists every name as a folder), a missing ``TEST/`` (it lists it
unconditionally), lower-case names (it only picks ``*.WAV``); its ``audio_utils`` calls the removed
``scipy.nanmean``. So this recipe first scans the tree itself, case-insensitively, keeping only
well-formed entries (``TRAIN``/``TEST``, ``DR1``..``DR8``, speaker folders ``[MF]`` + id, sentence files
``SA|SI|SX<n>.WAV``), and hands `timit_utils.Corpus` a *sanitized view*: a temporary folder of symlinks with
upper-case names and an empty ``TEST/`` where the corpus has none. timit-utils enumerates regions, speakers
and sentences from that view (its core module only; never `audio_utils`, never its audio reading). Where
symlinks cannot be made (some Windows set-ups), or timit-utils fails on the view, the recipe falls back to
its own scan and says so with a `CorpusWarning`. Every entry the scan leaves out (stray files, ``*.WAV.wav``
conversions, odd folders) is listed in a `CorpusWarning`, never dropped unseen.

Labels. Gender comes from ``DOC/SPKRINFO.TXT`` (``;`` comment lines; columns ``ID Sex DR Use RecDate
BirthDate Ht Race Edu [Comments]``; ID without the sex letter) and is cross-checked with the M/F letter of the
speaker folder and the folder's dialect region: a mismatch, or a speaker missing from the file, is an error
naming the speaker. Task ``dialect`` labels clips DR1..DR8.

Splits (whole speakers, never single utterances). Test: the speakers of ``TEST/`` (the full 168-speaker test
set). Validation: `validation_fraction` of the ``TRAIN/`` speakers, stratified by sex and dialect region,
drawn from `seed`. Without a ``TEST/`` folder, a seeded speaker-disjoint test split of ``TRAIN/``
(`test_fraction`), stratified the same way.

SA sentences. SA1 and SA2 are read by every speaker (same text for all). They stay in by default: for gender
and dialect the shared text carries no label and the splits are by speaker, so they do not leak; they were
written to expose dialect differences. Pass ``include_sa=False`` for the common SI+SX-only protocol of
phone-recognition work.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from keras_audio.corpora._common import (
    SEX_CLASSES,
    CorpusWarning,
    choose_task,
    finish,
    fractions,
    require_classes,
    sex_label,
    split_speakers,
    warn_ignored,
)
from keras_audio.manifest import Manifest

TASKS = ("gender", "dialect")
NAME = "timit"

_SUBSETS = ("TRAIN", "TEST")
_REGION = re.compile(r"^DR[1-8]$", re.IGNORECASE)
_SPEAKER = re.compile(r"^[MF][A-Z0-9]{2,6}$", re.IGNORECASE)
_SENTENCE = re.compile(r"^(S[AIX])(\d+)\.WAV$", re.IGNORECASE)
# Files that belong beside the audio and are not worth a warning.
_COMPANION = re.compile(r"^S[AIX]\d+\.(PHN|WRD|TXT)$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class _Sentence:
    subset: str  # TRAIN / TEST
    region: str  # DR1..DR8
    speaker: str  # folder name, upper case: FCJF0
    sentence: str  # SA1, SI1027, SX127
    path: Path  # the file on disk, in its own spelling


def load(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.25,
    include_sa: bool = True,
    spkrinfo: str | Path | None = None,
    use_timit_utils: bool = True,
) -> Manifest:
    """Build the TIMIT manifest.

    Args:
        data_dir: the corpus root (the folder holding ``TRAIN/``), or a folder with a single ``TIMIT/`` or
            ``data/`` sub-folder holding it.
        task: ``gender`` (default) or ``dialect``.
        seed: seeds the validation speakers (and the test speakers when there is no ``TEST/``).
        validation_fraction: fraction of training speakers held out for validation.
        test_fraction: fraction of all speakers held out for test, used only without ``TEST/``.
        include_sa: keep the SA1/SA2 sentences every speaker reads.
        spkrinfo: path to ``SPKRINFO.TXT`` if it is not at ``DOC/SPKRINFO.TXT``.
        use_timit_utils: enumerate through timit-utils (default) or only through this module's own scan.

    Returns:
        A validated manifest with columns ``sex``, ``dialect``, ``sentence``, ``sentence_type``, ``subset``,
        ``group`` (``sex/dialect``) besides the required ones.

    Raises:
        ValueError: no TIMIT layout under `data_dir`, SPKRINFO.TXT missing, a speaker whose folder and
            SPKRINFO.TXT disagree.
    """
    task = choose_task(task, TASKS, NAME)
    root = _find_root(Path(data_dir))
    sentences, ignored = _scan(root)
    warn_ignored(NAME, root, ignored)
    if not sentences:
        raise ValueError(f"{NAME}: no sentence files (TRAIN/DR*/<speaker>/S[AIX]*.WAV) under {root}")
    if use_timit_utils:
        sentences = _through_timit_utils(sentences)
    info = _read_spkrinfo(_find_spkrinfo(root, spkrinfo))
    frame = _frame(sentences, info, root)
    if not include_sa:
        frame = frame[frame["sentence_type"] != "SA"]
    frame["label"] = frame["sex"] if task == "gender" else frame["dialect"]
    require_classes(frame, task, NAME)
    frame["split"] = _splits(frame, seed, validation_fraction, test_fraction)
    classes = SEX_CLASSES if task == "gender" else tuple(sorted(frame["label"].unique()))
    return finish(Manifest(frame, classes=classes, name=NAME, task=task, root=str(root.resolve())))


# ----------------------------------------------------------------------------------------------- layout
def _find_root(data_dir: Path) -> Path:
    if not data_dir.is_dir():
        raise ValueError(f"{NAME}: {data_dir} is not a folder")
    candidates = [data_dir] + [
        c for c in sorted(data_dir.iterdir()) if c.is_dir() and c.name.lower() in ("timit", "data")
    ]
    for candidate in candidates:
        if _child(candidate, "TRAIN") is not None:
            return candidate
    raise ValueError(
        f"{NAME}: no TRAIN/ folder in {data_dir} (nor in a TIMIT/ or data/ sub-folder); "
        "point --data-dir at the folder that holds TRAIN/ (and TEST/, DOC/)"
    )


def _child(folder: Path, name: str, directory: bool = True) -> Path | None:
    """The entry of `folder` called `name` in any letter case."""
    for entry in sorted(folder.iterdir()):
        if entry.name.upper() == name.upper() and (entry.is_dir() if directory else entry.is_file()):
            return entry
    return None


def _scan(root: Path) -> tuple[list[_Sentence], list[Path]]:
    """Well-formed sentence files, and the entries under TRAIN/ and TEST/ that are not."""
    sentences: list[_Sentence] = []
    ignored: list[Path] = []
    for subset in _SUBSETS:
        subset_dir = _child(root, subset)
        if subset_dir is None:
            continue
        for region_dir in sorted(subset_dir.iterdir()):
            if not (region_dir.is_dir() and _REGION.match(region_dir.name)):
                ignored.append(region_dir)
                continue
            for speaker_dir in sorted(region_dir.iterdir()):
                if not (speaker_dir.is_dir() and _SPEAKER.match(speaker_dir.name)):
                    ignored.append(speaker_dir)
                    continue
                found = False
                for file in sorted(speaker_dir.iterdir()):
                    match = _SENTENCE.match(file.name)
                    if match and file.is_file():
                        sentences.append(
                            _Sentence(
                                subset,
                                region_dir.name.upper(),
                                speaker_dir.name.upper(),
                                (match.group(1) + match.group(2)).upper(),
                                file,
                            )
                        )
                        found = True
                    elif not (_COMPANION.match(file.name) and file.is_file()):
                        ignored.append(file)
                if not found:
                    warnings.warn(
                        f"{NAME}: speaker folder {speaker_dir} holds no sentence .WAV files",
                        CorpusWarning,
                        stacklevel=3,
                    )
    duplicates = pd.Series([(s.subset, s.speaker, s.sentence) for s in sentences]).duplicated()
    if duplicates.any():
        clash = [str(s.path) for s, d in zip(sentences, duplicates) if d]
        raise ValueError(f"{NAME}: sentence files that differ only in letter case: {clash[:10]}")
    return sentences, ignored


def _through_timit_utils(sentences: list[_Sentence]) -> list[_Sentence]:
    """Enumerate the corpus with timit-utils over a sanitized symlink view (see the module docstring)."""
    try:
        import timit_utils
    except ImportError as error:  # pragma: no cover - it is in requirements.txt
        warnings.warn(
            f"{NAME}: timit-utils not importable ({error}); using this module's own scan", CorpusWarning, stacklevel=3
        )
        return sentences
    with tempfile.TemporaryDirectory(prefix="timit-view-") as view:
        view = Path(view)
        for subset in _SUBSETS:
            (view / subset).mkdir()
        try:
            for s in sentences:
                link = view / s.subset / s.region / s.speaker / f"{s.sentence}.WAV"
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(s.path.resolve(), link)
        except OSError as error:
            warnings.warn(
                f"{NAME}: cannot build the symlink view for timit-utils ({error}); using this module's own scan",
                CorpusWarning,
                stacklevel=3,
            )
            return sentences
        by_link = {str(view / s.subset / s.region / s.speaker / s.sentence): s for s in sentences}
        found: list[_Sentence] = []
        try:
            corpus = timit_utils.Corpus(str(view))
            for subset in (corpus.train, corpus.test):
                for region_name in subset.region_names:
                    for person in subset.regions[region_name].people.values():
                        for sentence in person.sentences.values():
                            found.append(by_link[sentence.full_path])
        except Exception as error:  # noqa: BLE001 - any failure of the third-party walk means: fall back
            warnings.warn(
                f"{NAME}: timit-utils failed on the sanitized view ({type(error).__name__}: {error}); "
                "using this module's own scan",
                CorpusWarning,
                stacklevel=3,
            )
            return sentences
    if len(found) != len(sentences) or set(found) != set(sentences):
        # timit-utils keys speakers by id without the sex letter, so two folders differing only in that
        # letter collapse into one there; the scan keeps both.
        warnings.warn(
            f"{NAME}: timit-utils listed {len(found)} sentences, the scan {len(sentences)}; using the scan",
            CorpusWarning,
            stacklevel=3,
        )
        return sentences
    return found


# --------------------------------------------------------------------------------------------- speakers
def _find_spkrinfo(root: Path, spkrinfo: str | Path | None) -> Path:
    if spkrinfo is not None:
        path = Path(spkrinfo)
        if not path.is_file():
            raise ValueError(f"{NAME}: spkrinfo={path} is not a file")
        return path
    # LDC's discs keep it in DOC/; some copies (Kaggle's) put the DOC files beside data/TRAIN.
    looked = []
    for folder in (root, root.parent):
        for doc in (_child(folder, "DOC"), folder):
            looked.append(str((folder / "DOC" if doc is not folder else folder) / "SPKRINFO.TXT"))
            path = _child(doc, "SPKRINFO.TXT", directory=False) if doc is not None else None
            if path is not None:
                return path
    raise ValueError(
        f"{NAME}: speaker table not found (looked for {', '.join(looked)}); "
        "gender is read from it. Pass spkrinfo=PATH if it lives elsewhere"
    )


def _read_spkrinfo(path: Path) -> dict[str, tuple[str, str]]:
    """Speaker id (no sex letter, upper case) -> (sex letter, ``DR<n>``)."""
    info: dict[str, tuple[str, str]] = {}
    problems = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(";"):
            continue
        parts = text.split()
        if len(parts) < 3 or parts[1].upper() not in ("M", "F") or not parts[2].isdigit():
            problems.append(f"line {number}: {text!r} is not 'ID Sex DR ...'")
            continue
        info[parts[0].upper()] = (parts[1].upper(), f"DR{int(parts[2])}")
    if problems:
        raise ValueError(f"{NAME}: {path}: {len(problems)} malformed line(s): " + "; ".join(problems[:10]))
    if not info:
        raise ValueError(f"{NAME}: {path} lists no speakers")
    return info


def _frame(sentences: list[_Sentence], info: dict[str, tuple[str, str]], root: Path) -> pd.DataFrame:
    problems = []
    rows = []
    for s in sentences:
        speaker_id = s.speaker[1:]
        entry = info.get(speaker_id)
        where = f"speaker {s.speaker} ({s.subset}/{s.region})"
        if entry is None:
            problems.append(f"{where}: id {speaker_id} is not in SPKRINFO.TXT")
            continue
        sex, region = entry
        if sex != s.speaker[0]:
            problems.append(f"{where}: folder letter says {s.speaker[0]}, SPKRINFO.TXT says {sex}")
        if region != s.region:
            problems.append(f"{where}: folder is in {s.region}, SPKRINFO.TXT says {region}")
        rows.append(
            {
                "clip_id": f"{NAME}/{s.subset}/{s.region}/{s.speaker}/{s.sentence}",
                "path": s.path.relative_to(root).as_posix(),
                "speaker": s.speaker,
                "sex": sex_label(sex, where),
                "dialect": s.region,
                "sentence": s.sentence,
                "sentence_type": s.sentence[:2],
                "subset": s.subset,
            }
        )
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ValueError(f"{NAME}: {len(unique)} speaker(s) disagree with SPKRINFO.TXT:\n  - " + "\n  - ".join(unique))
    frame = pd.DataFrame(rows)
    frame["group"] = frame["sex"] + "/" + frame["dialect"]
    return frame


def _splits(frame: pd.DataFrame, seed: int, validation_fraction: float, test_fraction: float) -> pd.Series:
    split = pd.Series("test", index=frame.index, dtype=object)
    has_test = (frame["subset"] == "TEST").any()
    if not has_test:
        warnings.warn(
            f"{NAME}: no TEST/ speakers; drawing a speaker-disjoint test split of TRAIN/ "
            f"({test_fraction:.0%} of speakers, seed {seed})",
            CorpusWarning,
            stacklevel=3,
        )
    train = frame[frame["subset"] == "TRAIN"]
    split.loc[train.index] = split_speakers(
        train, fractions(validation_fraction, test_fraction, with_test=not has_test), seed, stratify=("sex", "dialect")
    )
    return split
