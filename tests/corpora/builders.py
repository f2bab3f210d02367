"""Miniature corpora in each real on-disk layout, and a folder of every kind of bad file, for tests.

Each builder writes into a folder (a pytest ``tmp_path``) and returns what it wrote, so tests can compare a
recipe's manifest against the truth. Clips are short (0.2-0.5 s) tones with a little noise: real enough to
decode, small enough to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float = 0.25, rate: int = 16000, freq: float = 220.0, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A sine with a little noise, float32 `[samples]` (or `[samples, channels]`)."""
    t = np.arange(int(round(seconds * rate))) / rate
    rng = np.random.default_rng(seed)
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.shape)
    wave = wave.astype(np.float32)
    return np.stack([wave * (1 - 0.3 * c) for c in range(channels)], axis=1) if channels > 1 else wave


def write(path: Path, waveform: np.ndarray, rate: int, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), waveform, rate, **kwargs)
    return path


# ------------------------------------------------------------------------------------------------ TIMIT
def write_sphere(path: Path, waveform: np.ndarray, rate: int = 16000, utterance_id: str = "abc0_sa1") -> Path:
    """A NIST SPHERE file with the header fields LDC's TIMIT files carry (1024-byte header, 16-bit LE PCM)."""
    pcm = np.clip(np.round(waveform * 32767), -32768, 32767).astype("<i2")
    fields = [
        ("database_id", "-s5", "TIMIT"),
        ("database_version", "-s3", "1.0"),
        ("utterance_id", f"-s{len(utterance_id)}", utterance_id),
        ("channel_count", "-i", 1),
        ("sample_count", "-i", len(pcm)),
        ("sample_rate", "-i", rate),
        ("sample_min", "-i", int(pcm.min())),
        ("sample_max", "-i", int(pcm.max())),
        ("sample_n_bytes", "-i", 2),
        ("sample_byte_format", "-s2", "01"),
        ("sample_sig_bits", "-i", 16),
    ]
    header = "NIST_1A\n   1024\n" + "".join(f"{k} {t} {v}\n" for k, t, v in fields) + "end_head\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode().ljust(1024, b" ") + pcm.tobytes())
    return path


TIMIT_SENTENCES = ("SA1", "SA2", "SI1027", "SX127")


def timit(
    root: Path,
    *,
    with_test: bool = True,
    stray: bool = False,
    lower: bool = False,
    speakers_per_stratum: int = 2,
    regions: tuple[str, ...] = ("DR1", "DR2"),
    sentences: tuple[str, ...] = TIMIT_SENTENCES,
    spkrinfo_sex: dict[str, str] | None = None,
) -> dict:
    """A TIMIT tree: TRAIN/ (and TEST/) DR*/[MF]xxx0/S*.WAV (SPHERE) + .PHN/.WRD/.TXT, and DOC/SPKRINFO.TXT.

    Args:
        with_test: write TEST/ (one female and one male speaker per region).
        stray: add stray files and folders (a README in TRAIN/, notes in a region, a ``.WAV.wav`` RIFF
            copy and a backup folder in a speaker folder, an empty folder in TEST/).
        lower: write every name in lower case.
        speakers_per_stratum: TRAIN speakers per (sex, region).
        spkrinfo_sex: speaker id (no sex letter) -> the sex to write in SPKRINFO.TXT instead of the true one.

    Returns:
        ``{"train": [speaker folders], "test": [...], "clips": n, "spkrinfo": path}`` (upper-case names).
    """
    case = str.lower if lower else (lambda s: s)
    info_lines = []
    written: dict[str, list[str]] = {"TRAIN": [], "TEST": []}
    counter = 0
    plan = [("TRAIN", speakers_per_stratum)] + ([("TEST", 1)] if with_test else [])
    for subset, per_stratum in plan:
        for region in regions:
            for sex in ("F", "M"):
                for _ in range(per_stratum):
                    speaker_id = f"{chr(65 + counter // 26 % 26)}{chr(65 + counter % 26)}K{counter % 10}"
                    counter += 1
                    folder_name = sex + speaker_id
                    written[subset].append(folder_name)
                    told = (spkrinfo_sex or {}).get(speaker_id, sex)
                    use = "TRN" if subset == "TRAIN" else "TST"
                    info_lines.append(
                        f"  {speaker_id}  {told}  {region[2:]}  {use}  03/03/86  06/17/60   5'11\"  WHT  BS"
                    )
                    folder = root / case(subset) / case(region) / case(folder_name)
                    for k, sentence in enumerate(sentences):
                        freq = 120.0 if sex == "M" else 220.0
                        wave = tone(0.2 + 0.05 * k, 16000, freq + 7 * k, seed=counter * 10 + k)
                        write_sphere(
                            folder / case(f"{sentence}.WAV"), wave, 16000, f"{speaker_id.lower()}_{sentence.lower()}"
                        )
                        for ext, text in (
                            ("PHN", "0 3050 h#\n"),
                            ("WRD", "2360 3050 she\n"),
                            ("TXT", "0 46797 She had your dark suit.\n"),
                        ):
                            (folder / case(f"{sentence}.{ext}")).write_text(text)
    doc = root / case("DOC")
    doc.mkdir(parents=True, exist_ok=True)
    spkrinfo = doc / case("SPKRINFO.TXT")
    spkrinfo.write_text(
        "; SPKRINFO.TXT\n;\n;  ID  Sex DR Use  RecDate   BirthDate  Ht    Race Edu  Comments\n;\n"
        + "\n".join(info_lines)
        + "\n"
    )
    if stray:
        train = root / case("TRAIN")
        (train / "README.TXT").write_text("stray file in TRAIN/\n")
        (train / case(regions[0]) / "notes.txt").write_text("stray file in a region\n")
        speaker = train / case(regions[0]) / case(written["TRAIN"][0])
        write(speaker / case(f"{sentences[0]}.WAV.wav"), tone(0.2), 16000)  # Kaggle-style RIFF copy
        (speaker / "backup").mkdir()
        (speaker / "backup" / case(f"{sentences[0]}.WAV")).write_bytes(b"not here")
        (root / case("TRAIN") / ".DS_Store").write_bytes(b"\0")
        if with_test:
            (root / case("TEST") / case(regions[0]) / "tmp").mkdir()
    return {
        "train": written["TRAIN"],
        "test": written["TEST"],
        "clips": (len(written["TRAIN"]) + len(written["TEST"])) * len(sentences),
        "spkrinfo": spkrinfo,
    }


# ----------------------------------------------------------------------------------------------- ESC-50
ESC_CLASSES = (("dog", 0, True), ("rooster", 1, True), ("pig", 2, False))


def esc50(root: Path, *, ext: str = "wav", rate: int = 44100, leak: bool = False) -> dict:
    """ESC-50 layout: audio/{fold}-{clip}-{take}-{target}.{ext} and meta/esc50.csv.

    Per fold and class one source recording; in fold 1 the dog recording has two takes (A, B). With `leak`,
    the rooster recording of fold 2 also appears in fold 3 (a broken CSV).
    """
    rows = []
    for fold in range(1, 6):
        for category, target, esc10 in ESC_CLASSES:
            source = f"{fold}{target}0{fold}"
            takes = ("A", "B") if (fold == 1 and category == "dog") else ("A",)
            for take in takes:
                rows.append((fold, source, take, target, category, esc10))
    if leak:
        rows.append((3, "2102", "B", 1, "rooster", True))
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for fold, source, take, target, category, esc10 in rows:
        filename = f"{fold}-{source}-{take}-{target}.wav"  # the CSV names .wav even for an .ogg copy
        write(
            root / "audio" / f"{fold}-{source}-{take}-{target}.{ext}",
            tone(0.3, rate, 300.0 + 100 * target, seed=len(lines)),
            rate,
            format=ext.upper(),
        )
        lines.append(f"{filename},{fold},{target},{category},{esc10},{source},{take}")
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return {"clips": len(rows), "esc10_clips": sum(r[5] for r in rows)}


# ----------------------------------------------------------------------------------- AudioMNIST / FSDD
def audiomnist(
    root: Path,
    *,
    variant: str = "json",
    ext: str = "wav",
    speakers: int = 6,
    digits=(0, 1, 2),
    repetitions: int = 2,
    rate: int = 48000,
) -> dict:
    """AudioMNIST: data/NN/{digit}_{NN}_{rep}.{ext}; metadata as the original JSON or AudioMNIST_AZ's CSV.

    Speakers alternate female (odd index) / male. ``variant="csv"`` writes ``metadata.txt`` at the root
    (``SPK ID``, per-digit counts, ``Gender`` M/F, CRLF lines, unpadded ids) like AudioMNIST_AZ.
    """
    sexes = {}
    for s in range(1, speakers + 1):
        speaker = f"{s:02d}"
        sexes[speaker] = "female" if s % 2 else "male"
        for digit in digits:
            for rep in range(repetitions):
                write(
                    root / "data" / speaker / f"{digit}_{speaker}_{rep}.{ext}",
                    tone(0.3, rate, 200.0 + 40 * digit, seed=s * 100 + digit * 10 + rep),
                    rate,
                    format=ext.upper(),
                )
    if variant == "json":
        meta = {s: {"accent": "german", "age": "30", "gender": g, "native speaker": "no"} for s, g in sexes.items()}
        (root / "data" / "audioMNIST_meta.txt").write_text(json.dumps(meta, indent=4))
    elif variant == "csv":
        lines = ["SPK ID," + ",".join(str(d) for d in range(10)) + ",Gender"]
        for s, g in sexes.items():
            counts = [repetitions if d in digits else 0 for d in range(10)]
            lines.append(f"{int(s)}," + ",".join(map(str, counts)) + f",{g[0].upper()}")
        (root / "metadata.txt").write_bytes("\r\n".join(lines).encode())
    else:
        raise ValueError(variant)
    return {"clips": speakers * len(digits) * repetitions, "sexes": sexes}


FSDD_SPEAKERS = (("jackson", "male"), ("theo", "male"), ("nicolas", "male"), ("george", "male"))


def fsdd(root: Path, *, speakers=FSDD_SPEAKERS, digits=(0, 1), per_digit: int = 12, rate: int = 8000) -> dict:
    """FSDD: recordings/{digit}_{speaker}_{n}.wav (8 kHz) and speakers.csv."""
    for k, (speaker, _) in enumerate(speakers):
        for digit in digits:
            for n in range(per_digit):
                write(
                    root / "recordings" / f"{digit}_{speaker}_{n}.wav",
                    tone(0.2, rate, 150.0 + 50 * digit + 10 * k, seed=k * 1000 + digit * 100 + n),
                    rate,
                )
    (root / "speakers.csv").write_text(
        "speaker,gender,accent,language\n" + "".join(f"{s},{g},USA/neutral,english\n" for s, g in speakers)
    )
    return {"clips": len(speakers) * len(digits) * per_digit}


# ---------------------------------------------------------------------------------------------- RAVDESS
def ravdess(root: Path, *, actors: int = 6, emotions=(1, 3, 5), song: bool = True) -> dict:
    """RAVDESS: Actor_NN/03-VV-EE-II-SS-RR-NN.wav (48 kHz), speech for every emotion, one song clip each."""
    clips = 0
    for actor in range(1, actors + 1):
        codes = [(1, e, 1, 1, r) for e in emotions for r in (1, 2)]
        if song:
            codes.append((2, 1, 1, 1, 1))
        for channel, emotion, intensity, statement, repetition in codes:
            name = f"03-{channel:02d}-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.wav"
            write(root / f"Actor_{actor:02d}" / name, tone(0.3, 48000, 150.0 + 20 * emotion, seed=clips), 48000)
            clips += 1
    return {"clips": clips}


# ----------------------------------------------------------------------------------------- folder / CSV
def class_folders(root: Path, *, labels=("cat", "dog"), per_label: int = 6, nested: bool = False) -> dict:
    """root/<label>/{speaker}_nohash_{n}.{wav,flac,ogg}; with `nested`, root/<label>/<speaker>/n.wav."""
    files = []
    extensions = ("wav", "flac", "ogg")
    for k, label in enumerate(labels):
        for n in range(per_label):
            speaker = f"spk{n % 3}"
            ext = extensions[n % 3]
            relative = f"{label}/{speaker}/{n}.{ext}" if nested else f"{label}/{speaker}_nohash_{n}.{ext}"
            write(root / relative, tone(0.25, 16000, 200.0 + 100 * k, seed=k * 100 + n), 16000, format=ext.upper())
            files.append((relative, label, speaker))
    return {"files": files}


def csv_manifest(root: Path, *, speaker: bool = True, split: bool = True, name: str = "clips.csv") -> Path:
    """Audio in root/audio/ and a CSV manifest listing it (path,label[,speaker,split])."""
    columns = ["path", "label"] + (["speaker"] if speaker else []) + (["split"] if split else [])
    lines = [",".join(columns)]
    sides = {"s0": "train", "s1": "train", "s2": "train", "s3": "val", "s4": "test"}
    for n in range(10):
        label = ("yes", "no")[n % 2]
        spk = f"s{n // 2}"
        relative = f"audio/{n}.wav"
        write(root / relative, tone(0.25, 16000, 200.0 + 50 * n, seed=n), 16000)
        values = [relative, label] + ([spk] if speaker else []) + ([sides[spk]] if split else [])
        lines.append(",".join(values))
    path = root / name
    path.write_text("\n".join(lines) + "\n")
    return path


# -------------------------------------------------------------------------------------------- bad files
def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """One file of each kind that must be refused: name -> (path, a phrase the problem must contain).

    Use with ``min_samples=400`` (one 25 ms window at 16 kHz) and ``max_seconds=1.0``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, tuple[Path, str]] = {}

    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    made["empty"] = (empty, "empty file")

    truncated = write(folder / "truncated.wav", tone(0.5), 16000)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    made["truncated wav"] = (truncated, "truncated")

    wavex = write(folder / "truncated_wavex.wav", tone(0.5), 16000, format="WAVEX")  # WAVE_FORMAT_EXTENSIBLE
    wavex.write_bytes(wavex.read_bytes()[: len(wavex.read_bytes()) // 2])
    made["truncated wavex"] = (wavex, "truncated")

    riff = write(folder / "padded.wav", tone(0.5), 16000).read_bytes()
    fmt_end = 20 + struct.unpack("<I", riff[16:20])[0]
    body = riff[12:fmt_end] + b"LIST" + struct.pack("<I", 5000) + bytes(5000) + riff[fmt_end:]  # a DAW's metadata
    padded = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
    (folder / "padded.wav").write_bytes(padded[: len(padded) * 3 // 4])
    made["truncated wav, data after 4 kB"] = (folder / "padded.wav", "truncated")

    header_only = write(folder / "header_only.wav", tone(0.5), 16000)
    header_only.write_bytes(header_only.read_bytes()[:44])
    made["header only"] = (header_only, "truncated")

    flac = write(folder / "truncated.flac", tone(0.5), 16000, format="FLAC")
    flac.write_bytes(flac.read_bytes()[: len(flac.read_bytes()) // 2])
    made["truncated flac"] = (flac, "truncated")

    sphere = write_sphere(folder / "truncated_sphere.wav", tone(0.5))
    sphere.write_bytes(sphere.read_bytes()[:-3000])
    made["truncated sphere"] = (sphere, "truncated")

    text = folder / "notes.wav"
    text.write_text("this is a text file, not audio\n")
    made["not audio"] = (text, "not a readable audio file")

    wave = tone(0.5)
    wave[100] = np.nan
    made["nan"] = (write(folder / "nan.wav", wave, 16000, subtype="FLOAT"), "NaN or infinite")
    wave = tone(0.5)
    wave[200:210] = np.inf
    made["inf"] = (write(folder / "inf.wav", wave, 16000, subtype="FLOAT"), "NaN or infinite")

    made["silent"] = (write(folder / "silent.wav", np.zeros(8000, np.float32), 16000), "all-silent")
    made["short"] = (write(folder / "short.wav", tone(0.005), 16000), "too short")
    made["long"] = (write(folder / "long.wav", tone(1.5), 16000), "too long")

    folder_named_wav = folder / "folder.wav"
    folder_named_wav.mkdir()
    made["not a file"] = (folder_named_wav, "not a regular file")

    dangling = folder / "dangling.wav"
    os.symlink(folder / "gone.wav", dangling)
    made["dangling link"] = (dangling, "file not found")

    stereo = tone(0.5, channels=2)
    stereo[:, 1] = -stereo[:, 0]
    made["cancelling stereo"] = (write(folder / "cancel.wav", stereo, 16000), "cancel out")
    return made


def good_odd_files(folder: Path, seconds: float = 0.5) -> dict[str, tuple[Path, int]]:
    """Files that are unusual but fine: name -> (path, source rate). Each lasts `seconds`."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "stereo": (write(folder / "stereo.wav", tone(seconds, 16000, channels=2), 16000), 16000),
        "8-bit": (write(folder / "u8.wav", tone(seconds, 16000), 16000, subtype="PCM_U8"), 16000),
        "8 kHz": (write(folder / "r8k.wav", tone(seconds, 8000), 8000), 8000),
        "96 kHz": (write(folder / "r96k.wav", tone(seconds, 96000), 96000), 96000),
        "44.1 kHz ogg": (write(folder / "r44k.ogg", tone(seconds, 44100), 44100, format="OGG"), 44100),
        "22.05 kHz flac": (write(folder / "r22k.flac", tone(seconds, 22050), 22050, format="FLAC"), 22050),
        "24-bit 48 kHz stereo": (
            write(folder / "s24.wav", tone(seconds, 48000, channels=2), 48000, subtype="PCM_24"),
            48000,
        ),
        "sphere": (write_sphere(folder / "sphere.wav", tone(seconds)), 16000),
    }


# ------------------------------------------------------------------------------------------ the run path
def through_pipeline(corpus: str, data_dir: Path, cache_dir: Path, sample_rate: int = 16000, **kwargs):
    """What a run does with a corpus: registry recipe -> Manifest.validate -> decode cache.

    Returns:
        ``(manifest, DecodeResult)``.
    """
    from keras_audio.cache import load_waveforms
    from keras_audio.corpora import load_corpus

    manifest = load_corpus(corpus, data_dir, **kwargs).validate()
    return manifest, load_waveforms(manifest, sample_rate, cache_dir, progress=False)
