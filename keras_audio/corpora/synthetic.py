"""The default corpus: synthetic voices for speaker gender, generated on the first load, no download.

`load(data_dir)` returns the manifest of a corpus of voices made by `voice.py`, writing it first if
`data_dir` does not hold it yet (default settings: ~26 s of CPU, so ~15 s on 2 idle cores).

The population (`sample_traits`): 240 speakers, exactly half female, each with persistent traits drawn
from per-sex distributions that overlap the way real adult voices do:

============================  ===========================  ===========================
trait                         female                       male
============================  ===========================  ===========================
median F0 (Hz)                log-normal, median 200       log-normal, median 118
                              (sd 0.22 in ln)              (sd 0.22 in ln)
pitch-accent range (st)       N(3.5, 1.0)                  N(2.5, 0.8)
formant scale (1/VT length)   N(1.18, 0.04)                N(1.00, 0.04)
breathiness                   Beta(3, 5), mean 0.375       Beta(2, 9), mean 0.18
============================  ===========================  ===========================

and, the same for both sexes: open quotient (0.45 + 0.4·breathiness ± 0.05), speaking rate N(4.6, 0.6)
syllables/s, jitter (median 0.6 %) and shimmer (median 3.5 %), speech level U(-30, -20) dBFS, and a
channel: microphone high-pass 40-120 Hz, high-shelf tilt N(0, 3) dB, one resonance (300-5000 Hz,
N(0, 3) dB, Q 0.7-4), noise floor U(-75, -55) dBFS. `speakers.csv` lists every speaker's traits.

The sexes overlap so that a threshold on mean F0 alone (measured with pYIN on the audio) is right for
only ~0.87 of clips (`benchmarks/f0_baseline.py` measures it: 0.872 on all clips, 0.899 on test, for
corpus seed 0); formant spacing and breathiness carry the rest, as in real voices (a linear model on
F0 and the mean log-mel shape reaches ~0.98).

Each speaker records 8 utterances of 1 to 5 s (1 + 4·Beta(2, 3.2) s, mean ~2.5 s) with its own
loudness (± 2.5 dB). Splits are fixed by the corpus: 70/15/15 % of speakers (train/validation/test),
stratified by sex, drawn from `corpus_seed`, so every run on the same corpus tests the same speakers.

Background noise (``noise/``, 18 s each at 16 kHz, for the background-noise corruption on a fresh clone):

- ``hum.wav``: 50 or 60 Hz mains hum with decaying, slightly buzzing harmonics and a faint hiss;
- ``fan.wav``: fan/HVAC: low-passed noise with a blade-pass tone and harmonics, gently wobbling;
- ``rain.wav``: rain on a window: soft high-passed noise and thousands of random drop clicks;
- ``traffic.wav``: distant traffic: low-passed brown-noise rumble swelling as cars pass, with tyre hiss;
- ``babble.wav``: cafe babble: six extra synthetic talkers (not in the corpus) talking at once.

On disk (``data_dir``)::

    corpus.json              settings (seed, sizes, format version): written last, marks completion
    manifest.csv (+ .json)   one row per clip: clip_id, path, label, speaker, split, group, duration
    speakers.csv             traits per speaker
    wav/spk017/spk017_03.wav 16-bit PCM, 16 kHz mono
    noise/*.wav

Default size: 240 speakers, 1,920 clips, 1.35 h, 158 MB (noise included).

Determinism and atomicity: every speaker and utterance has its own random stream
(`numpy.random.default_rng([corpus_seed, stream, speaker, utterance])`), so the same settings give
byte-identical files whatever the order or number of worker processes (on one platform with the same
NumPy/SciPy/libsndfile; floating-point libraries may differ in the last bit elsewhere). The corpus is written into a
temporary sibling folder (``.<name>.partial-<pid>-<token>``) and renamed into place when complete, so an
interrupted generation never leaves a corpus that later loads (a leftover partial folder is ignored;
delete it at will). A folder holding a corpus made with other settings is an error, not silently
replaced: pass another `data_dir`, or ``overwrite=True`` to regenerate in place. A corpus of the same
settings made by older code (a lower `FORMAT_VERSION`) is regenerated.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import json
import multiprocessing
import os
import secrets
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy import signal
from tqdm.auto import tqdm

from keras_audio.corpora import voice
from keras_audio.manifest import Manifest, speaker_disjoint_split

# Bump whenever the synthesiser, the population or the layout changes what a setting produces, so an
# existing corpus made by older code is regenerated instead of silently reused.
FORMAT_VERSION = 1
SAMPLE_RATE = voice.SAMPLE_RATE
CLASSES = ("female", "male")
TASKS = ("gender",)
SPLIT_FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
NOISE_SECONDS = 18.0
NOISE_NAMES = ("hum", "fan", "rain", "traffic", "babble")
NOISE_RMS_DBFS = -30.0  # leaves room for rain's ~28 dB crest factor
BABBLE_TALKERS = 6
SETTINGS_FILE = "corpus.json"

# Random streams: default_rng([corpus_seed, stream, ...]).
_SEXES, _TRAITS, _UTTERANCES, _NOISE, _BABBLE_TRAITS, _BABBLE_UTTERANCES = range(6)


@dataclasses.dataclass(frozen=True)
class CorpusSettings:
    """Everything that determines the corpus's content (stored in ``corpus.json``)."""

    num_speakers: int = 240
    utterances_per_speaker: int = 8
    corpus_seed: int = 0
    sample_rate: int = SAMPLE_RATE
    format_version: int = FORMAT_VERSION

    def validate(self) -> CorpusSettings:
        if not isinstance(self.num_speakers, int) or self.num_speakers < 6:
            raise ValueError(f"num_speakers must be an int >= 6 (two per split), got {self.num_speakers!r}")
        if not isinstance(self.utterances_per_speaker, int) or not 1 <= self.utterances_per_speaker <= 100:
            raise ValueError(f"utterances_per_speaker must be an int in [1, 100], got {self.utterances_per_speaker!r}")
        if not isinstance(self.corpus_seed, int) or self.corpus_seed < 0:
            raise ValueError(f"corpus_seed must be a non-negative int, got {self.corpus_seed!r}")
        if self.sample_rate != SAMPLE_RATE:
            raise ValueError(f"the synthetic corpus is generated at {SAMPLE_RATE} Hz, got {self.sample_rate}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------------------------ population
def speaker_id(index: int) -> str:
    return f"spk{index:03d}"


def speaker_sexes(settings: CorpusSettings) -> list[str]:
    """Sex of every speaker: exactly half female (the odd one out male), in a seeded order."""
    n = settings.num_speakers
    sexes = np.array(["female"] * (n // 2) + ["male"] * (n - n // 2))
    np.random.default_rng([settings.corpus_seed, _SEXES]).shuffle(sexes)
    return sexes.tolist()


def sample_traits(sex: str, rng: np.random.Generator) -> voice.SpeakerTraits:
    """Draw one speaker's persistent traits from the population of `sex` (see the module docstring)."""
    if sex not in CLASSES:
        raise ValueError(f"sex must be one of {CLASSES}, got {sex!r}")
    female = sex == "female"
    f0 = (200.0 if female else 118.0) * np.exp(rng.normal(0.0, 0.22))
    f0_range = rng.normal(3.5, 1.0) if female else rng.normal(2.5, 0.8)
    formant_scale = rng.normal(1.18, 0.04) if female else rng.normal(1.0, 0.04)
    breathiness = rng.beta(3.0, 5.0) if female else rng.beta(2.0, 9.0)
    channel = voice.Channel(
        highpass_hz=float(np.exp(rng.uniform(np.log(40.0), np.log(120.0)))),
        tilt_db=float(np.clip(rng.normal(0.0, 3.0), -8.0, 8.0)),
        peak_hz=float(np.exp(rng.uniform(np.log(300.0), np.log(5000.0)))),
        peak_gain_db=float(np.clip(rng.normal(0.0, 3.0), -8.0, 8.0)),
        peak_q=float(np.exp(rng.uniform(np.log(0.7), np.log(4.0)))),
        noise_floor_dbfs=float(rng.uniform(-75.0, -55.0)),
    )
    return voice.SpeakerTraits(
        sex=sex,
        f0_hz=float(np.clip(f0, 60.0, 400.0)),
        f0_range_st=float(np.clip(f0_range, 0.5, 7.0)),
        formant_scale=float(np.clip(formant_scale, 0.8, 1.4)),
        breathiness=float(breathiness),
        open_quotient=float(np.clip(0.45 + 0.4 * breathiness + rng.normal(0.0, 0.05), 0.35, 0.9)),
        speaking_rate=float(np.clip(rng.normal(4.6, 0.6), 3.0, 6.5)),
        jitter=float(np.clip(0.006 * np.exp(rng.normal(0.0, 0.4)), 0.0, 0.03)),
        shimmer=float(np.clip(0.035 * np.exp(rng.normal(0.0, 0.35)), 0.0, 0.12)),
        level_dbfs=float(rng.uniform(-30.0, -20.0)),
        channel=channel,
    ).validate()


def speaker_traits(settings: CorpusSettings, index: int, sex: str) -> voice.SpeakerTraits:
    return sample_traits(sex, np.random.default_rng([settings.corpus_seed, _TRAITS, index]))


def utterance_seconds(rng: np.random.Generator) -> float:
    """1 to 5 s, mean ~2.5 s, on the 10 ms grid."""
    return round(1.0 + 4.0 * float(rng.beta(2.0, 3.2)), 2)


def write_wav(path: Path, waveform: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV, encoded in memory: writing a file through libsndfile fsyncs it on close, which
    costs more than synthesising a clip."""
    buffer = io.BytesIO()
    sf.write(buffer, waveform, sample_rate, subtype="PCM_16", format="WAV")
    path.write_bytes(buffer.getvalue())


def _speaker_job(settings: CorpusSettings, index: int, sex: str, root: str) -> tuple[dict, list[dict]]:
    """Write one speaker's utterances under `root`; return its traits row and its clip rows."""
    traits = speaker_traits(settings, index, sex)
    speaker = speaker_id(index)
    folder = Path(root) / "wav" / speaker
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for n in range(settings.utterances_per_speaker):
        rng = np.random.default_rng([settings.corpus_seed, _UTTERANCES, index, n])
        waveform = voice.synthesize_utterance(traits, utterance_seconds(rng), rng, settings.sample_rate)
        relative = f"wav/{speaker}/{speaker}_{n:02d}.wav"
        write_wav(Path(root) / relative, waveform, settings.sample_rate)
        clips.append(
            {
                "clip_id": f"{speaker}_{n:02d}",
                "path": relative,
                "label": sex,
                "speaker": speaker,
                "group": sex,
                "duration": waveform.shape[0] / settings.sample_rate,
            }
        )
    return {"speaker": speaker, **traits.to_row()}, clips


# ------------------------------------------------------------------------------------- background noise
def _normalise(waveform: np.ndarray, rms_dbfs: float = NOISE_RMS_DBFS) -> np.ndarray:
    waveform = waveform - waveform.mean()
    waveform = waveform * 10 ** (rms_dbfs / 20) / np.sqrt(np.mean(waveform**2))
    peak = np.max(np.abs(waveform))
    return (waveform * (0.98 / peak if peak > 0.98 else 1.0)).astype(np.float32)


def _hum(rng: np.random.Generator, samples: int, rate: int) -> np.ndarray:
    mains = float(rng.choice([50.0, 60.0]))
    t = np.arange(samples) / rate
    wander = np.cumsum(rng.normal(0.0, 2e-4, samples))  # slow drift of the mains frequency (Hz)
    phase = 2 * np.pi * np.cumsum(mains + wander - wander.mean()) / rate
    hum = np.zeros(samples)
    for k in range(1, 16):
        if k * mains >= 0.45 * rate:
            break
        weight = (1.0 if k % 2 else 0.5) / k**1.1 * rng.uniform(0.6, 1.4)
        hum += weight * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    buzz = np.clip(np.sin(2 * phase), 0.9, None) - 0.9  # rectifier spikes at twice the mains frequency
    hum += 2.0 * buzz * (1 + 0.2 * np.sin(2 * np.pi * 0.3 * t))
    return hum + 0.01 * rng.standard_normal(samples)


def _fan(rng: np.random.Generator, samples: int, rate: int) -> np.ndarray:
    t = np.arange(samples) / rate
    air = signal.sosfilt(signal.butter(2, rng.uniform(600, 1200), fs=rate, output="sos"), rng.standard_normal(samples))
    air /= np.std(air)
    blade = rng.uniform(80.0, 160.0)
    wobble = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t)
    phase = 2 * np.pi * np.cumsum(blade * wobble) / rate
    tones = sum(1.0 / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 5))
    whine = 0.05 * np.sin(2 * np.pi * rng.uniform(1000, 2000) * t)
    return air * (1 + 0.1 * np.sin(2 * np.pi * 0.2 * t)) + tones + whine


def _rain(rng: np.random.Generator, samples: int, rate: int) -> np.ndarray:
    hiss = signal.sosfilt(signal.butter(2, 1000, btype="highpass", fs=rate, output="sos"), rng.standard_normal(samples))
    drops = np.zeros(samples)
    count = int(300 * samples / rate)
    positions = rng.integers(0, samples, count)
    np.add.at(drops, positions, np.minimum(rng.pareto(2.5, count), 6.0) * rng.choice([-1.0, 1.0], count))
    ring = np.exp(-np.arange(int(0.003 * rate)) / (0.0006 * rate))  # each drop: a short decaying click
    drops = np.convolve(drops, ring)[:samples]
    drops = signal.sosfilt(signal.butter(2, [1500, 6000], btype="bandpass", fs=rate, output="sos"), drops)
    return 0.3 * hiss + 3.0 * drops


def _traffic(rng: np.random.Generator, samples: int, rate: int) -> np.ndarray:
    t = np.arange(samples) / rate
    brown = np.cumsum(rng.standard_normal(samples))
    rumble = signal.sosfilt(
        signal.butter(2, [25, rng.uniform(250, 450)], btype="bandpass", fs=rate, output="sos"), brown
    )
    rumble /= np.std(rumble)
    tyres = signal.sosfilt(
        signal.butter(2, [400, 2500], btype="bandpass", fs=rate, output="sos"), rng.standard_normal(samples)
    )
    swell = np.full(samples, 0.3)
    car = rng.uniform(0.0, 2.0)
    while car < t[-1] + 2.0:
        swell += rng.uniform(0.5, 1.5) * np.exp(-0.5 * ((t - car) / rng.uniform(0.8, 1.6)) ** 2)
        car += rng.uniform(2.0, 5.0)
    return rumble * swell + 0.25 * tyres / np.std(tyres) * swell**2


def _babble(rng: np.random.Generator, samples: int, rate: int, settings: CorpusSettings) -> np.ndarray:
    """Six extra talkers (streams of their own, not corpus speakers), talking over each other."""
    mix = np.zeros(samples)
    for talker in range(BABBLE_TALKERS):
        traits = sample_traits(
            CLASSES[talker % 2], np.random.default_rng([settings.corpus_seed, _BABBLE_TRAITS, talker])
        )
        stream, n = [], 0
        while sum(len(s) for s in stream) < samples:
            utterance_rng = np.random.default_rng([settings.corpus_seed, _BABBLE_UTTERANCES, talker, n])
            stream.append(voice.synthesize_utterance(traits, utterance_seconds(utterance_rng), utterance_rng, rate))
            n += 1
        talk = np.concatenate(stream)
        start = int(rng.integers(0, len(talk) - samples + 1))
        talk = talk[start : start + samples]
        mix += talk / np.sqrt(np.mean(talk**2)) * 10 ** (rng.uniform(-6, 0) / 20)
    # A little distance: the room takes the edge off the highs.
    return signal.sosfilt(signal.butter(1, 3500, fs=rate, output="sos"), mix)


def make_noise(name: str, settings: CorpusSettings, seconds: float = NOISE_SECONDS) -> np.ndarray:
    """One of the background-noise recordings (`NOISE_NAMES`), float32 at `NOISE_RMS_DBFS` RMS."""
    if name not in NOISE_NAMES:
        raise ValueError(f"unknown noise {name!r}; known: {NOISE_NAMES}")
    rng = np.random.default_rng([settings.corpus_seed, _NOISE, NOISE_NAMES.index(name)])
    samples = int(round(seconds * settings.sample_rate))
    if name == "babble":
        return _normalise(_babble(rng, samples, settings.sample_rate, settings))
    makers = {"hum": _hum, "fan": _fan, "rain": _rain, "traffic": _traffic}
    return _normalise(makers[name](rng, samples, settings.sample_rate))


def _noise_job(settings: CorpusSettings, name: str, root: str) -> str:
    path = Path(root) / "noise" / f"{name}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, make_noise(name, settings), settings.sample_rate)
    return name


# ------------------------------------------------------------------------------------------ generation
def generate(
    root: str | Path,
    settings: CorpusSettings,
    progress: bool = True,
    workers: int | None = None,
    final_root: str | Path | None = None,
) -> None:
    """Write the whole corpus into `root` (which must be new or empty); ``corpus.json`` comes last.

    Not atomic by itself: `ensure_corpus` calls it on a temporary folder and renames the result into
    place; `final_root` is that place, recorded as the manifest's root (default: `root`).
    """
    settings.validate()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise ValueError(f"{root}: generation needs an empty folder")
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    sexes = speaker_sexes(settings)
    traits_rows: list[dict] = [{}] * settings.num_speakers
    clip_rows: list[list[dict]] = [[]] * settings.num_speakers
    bar = tqdm(
        total=settings.num_speakers + len(NOISE_NAMES), desc="synthetic corpus", unit="job", disable=not progress
    )
    pool = _executor(workers)
    try:
        speaker_jobs = {
            pool.submit(_speaker_job, settings, i, sexes[i], str(root)): i for i in range(settings.num_speakers)
        }
        noise_jobs = [pool.submit(_noise_job, settings, name, str(root)) for name in NOISE_NAMES]
        for job in concurrent.futures.as_completed([*speaker_jobs, *noise_jobs]):
            result = job.result()
            if job in speaker_jobs:
                traits_rows[speaker_jobs[job]], clip_rows[speaker_jobs[job]] = result
            bar.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()

    speakers = pd.DataFrame(traits_rows)
    speakers.insert(
        1,
        "split",
        speaker_disjoint_split(speakers.assign(label=speakers["sex"]), SPLIT_FRACTIONS, seed=settings.corpus_seed),
    )
    speakers.to_csv(root / "speakers.csv", index=False)
    frame = pd.DataFrame([row for rows in clip_rows for row in rows])
    frame["split"] = frame["speaker"].map(dict(zip(speakers["speaker"], speakers["split"])))
    frame = frame[["clip_id", "path", "label", "speaker", "split", "group", "duration"]]
    Manifest(
        frame, classes=CLASSES, name="synthetic", task="gender", root=str(Path(final_root or root).resolve())
    ).to_csv(root / "manifest.csv")
    summary = {
        "clips": len(frame),
        "hours": round(float(frame["duration"].sum()) / 3600, 3),
        "noise": [f"noise/{name}.wav" for name in NOISE_NAMES],
    }
    (root / SETTINGS_FILE).write_text(json.dumps({"settings": settings.to_dict(), **summary}, indent=2) + "\n")


class _InlineExecutor(concurrent.futures.Executor):
    """Runs each job at submission (workers=1): no processes, same results."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(error)
        return future


def _executor(workers: int) -> concurrent.futures.Executor:
    if workers == 1:
        return _InlineExecutor()
    # On Linux, fork: workers start in milliseconds and need no `if __name__ == "__main__"` guard in the
    # caller's script, whereas spawn re-imports the caller's main module (TensorFlow with it) in every
    # worker. Workers only run NumPy/SciPy/libsndfile code, never TensorFlow, so the parent's TensorFlow
    # threads (the usual danger of fork) do not matter. Elsewhere fork is unsafe or absent: spawn.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


def stored_settings(root: str | Path) -> dict | None:
    """The settings of the complete corpus in `root`, or None if it holds none."""
    path = Path(root) / SETTINGS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())["settings"]


def ensure_corpus(
    root: str | Path,
    settings: CorpusSettings,
    progress: bool = True,
    workers: int | None = None,
    overwrite: bool = False,
) -> bool:
    """Make sure `root` holds the corpus of `settings`, generating it atomically if needed.

    A corpus made with the same settings by an older format version (older synthesiser code) is
    replaced: it is derived data, and reusing it would silently mix versions.

    Returns:
        True if it was generated now, False if an existing corpus was reused.

    Raises:
        ValueError: `root` holds a corpus of other settings (and not `overwrite`), or other files.
    """
    settings.validate()
    root = Path(root)
    stored = stored_settings(root)
    if stored == settings.to_dict():
        return False
    outdated = stored is not None and _without_version(stored) == _without_version(settings.to_dict())
    if stored is not None and not (overwrite or outdated):
        raise ValueError(
            f"{root} holds a synthetic corpus generated with {stored}, not the requested {settings.to_dict()}; "
            f"pass another data_dir for these settings, or overwrite=True to regenerate it"
        )
    if stored is None and root.is_dir() and any(root.iterdir()):
        raise ValueError(
            f"{root} exists and holds files but no complete synthetic corpus ({SETTINGS_FILE} "
            f"missing); remove it or pass another data_dir"
        )
    if root.exists() and not root.is_dir():
        raise ValueError(f"{root} exists and is not a folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.parent / f".{root.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        generate(partial, settings, progress=progress, workers=workers, final_root=root)
        if stored is not None:  # overwrite: move the old corpus aside, then swap
            old = root.parent / f".{root.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
            root.rename(old)
            partial.rename(root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if root.is_dir():
                root.rmdir()  # empty (checked above)
            try:
                partial.rename(root)
            except OSError:
                # Another process finished the same corpus first: use theirs if it matches.
                if stored_settings(root) != settings.to_dict():
                    raise
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return True


def noise_dir(data_dir: str | Path) -> Path:
    """The folder of background-noise recordings inside a generated corpus (for `Resources.noise_dir`)."""
    return Path(data_dir) / "noise"


def _integer(name: str, value) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"{name} must be an integer, got {value!r}")


def _without_version(settings: dict) -> dict:
    return {key: value for key, value in settings.items() if key != "format_version"}


def load(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    num_speakers: int = 240,
    utterances_per_speaker: int = 8,
    corpus_seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
    overwrite: bool = False,
) -> Manifest:
    """The synthetic corpus's manifest, generating the corpus into `data_dir` first if it is not there.

    Args:
        data_dir: the corpus folder (the registry's default is ``datasets/synthetic``).
        task: ``gender`` (the default and only task); classes ``("female", "male")``.
        seed: the run seed. Unused: the corpus is data, so its content *and its split* come from
            `corpus_seed`, and every run on one corpus evaluates the same test speakers.
        num_speakers: speakers in the corpus (half female).
        utterances_per_speaker: clips per speaker.
        corpus_seed: seeds the voices, the utterances, the noise recordings and the split.
        progress: show a progress bar while generating.
        workers: processes for generation (default: up to 2); 1 generates in this process.
        overwrite: regenerate when `data_dir` holds a corpus of other settings (else that is an error).

    Returns:
        A validated manifest with columns clip_id, path, label, speaker, split, group (= sex), duration.

    Raises:
        ValueError: an unknown task, bad settings, or `data_dir` holding something else.
    """
    del seed  # the split belongs to the corpus (corpus_seed), see above
    task = task or "gender"
    if task not in TASKS:
        raise ValueError(f"synthetic corpus: unknown task {task!r}; known: {TASKS}")
    settings = CorpusSettings(
        num_speakers=_integer("num_speakers", num_speakers),
        utterances_per_speaker=_integer("utterances_per_speaker", utterances_per_speaker),
        corpus_seed=_integer("corpus_seed", corpus_seed),
    ).validate()
    root = Path(data_dir)
    ensure_corpus(root, settings, progress=progress, workers=workers, overwrite=overwrite)
    manifest = Manifest.from_csv(root / "manifest.csv", root=str(root.resolve()), name="synthetic", task=task)
    return manifest.validate()
