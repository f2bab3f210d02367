"""Write the corruption catalogue: docs/corruptions.md and one spectrogram PNG per corruption.

Run from the repository root (it needs no corpus on disk):

    python docs/scripts/make_corruption_catalogue.py

Everything on the page comes from the library: the list of corruptions, their families, descriptions, cues and
severity values from `keras_audio.corruptions.registry`; the spoiled clips from `pipeline.spoil_clip`, the
path evaluation takes (the same seeds); the spectrograms from the model's own log-mel layer, drawn by
`plots.spectrogram_gallery`. What this script adds is `MEANINGS`: what each parameter is physically and the
quantities derived from its values (an amplitude ratio, a pitch interval, a direct-to-reverberant ratio).
A corruption or a parameter without an entry there stops the script, so the page cannot fall behind the
registry.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import sys
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the checkout's keras_audio, whatever is installed

from keras_audio import plots
from keras_audio.config import FeatureConfig
from keras_audio.corpora import synthetic, voice
from keras_audio.corruptions import filters, packet_loss, registry, reverb
from keras_audio.corruptions.base import NUM_SEVERITIES
from keras_audio.corruptions.seeds import name_hash
from keras_audio.features import LogMelSpectrogram
from keras_audio.pipeline import spoil_clip

SAMPLE_RATE = synthetic.SAMPLE_RATE
CLIP_SECONDS = 3.0
CLIP_ID = "catalogue"  # the clip's seeds are evaluation's for this id and RUN_SEED
RUN_SEED = 0
SHOWN_SEVERITIES = (3, 5)
IMAGE_FOLDER = "images/corruptions"
COMMAND = "python docs/scripts/make_corruption_catalogue.py"


@dataclasses.dataclass(frozen=True)
class Meaning:
    """What a corruption's parameters are physically.

    Attributes:
        parameters: parameter name -> what it is, with its unit.
        derived: (quantity, function of one severity's parameters -> its value as text), for the table.
    """

    parameters: Mapping[str, str]
    derived: tuple[tuple[str, Callable[[Mapping[str, float]], str]], ...] = ()


def _ratio(db: float) -> float:
    return 10 ** (db / 20)


SNR = Meaning(
    {"snr_db": "signal-to-noise ratio: RMS of the clip over RMS of the noise added, whole clip (dB)"},
    (("noise amplitude relative to the clip", lambda p: f"×{_ratio(-p['snr_db']):.2f}"),),
)
_FLAT, _STOP = 1 - filters.TRANSITION / 2, 1 + filters.TRANSITION / 2
_CRITICAL_RT60 = inspect.signature(reverb.SyntheticReverb.__init__).parameters["critical_rt60_s"].default
_PCM_KBPS = 16 * SAMPLE_RATE / 1000

MEANINGS: dict[str, Meaning] = {
    "white_noise": SNR,
    "pink_noise": SNR,
    "brown_noise": SNR,
    "background_noise": SNR,
    "babble": SNR,
    "gain": Meaning(
        {"gain_db": "level change (dB), louder or quieter with equal odds"},
        (("amplitude factor", lambda p: f"×{_ratio(p['gain_db']):.2f} or ×{_ratio(-p['gain_db']):.2f}"),),
    ),
    "clipping": Meaning(
        {"fraction": "clipping threshold as a fraction of the clip's peak"},
        (("threshold below the peak", lambda p: f"{20 * math.log10(p['fraction']):.1f} dB"),),
    ),
    "bit_depth": Meaning(
        {"bits": "bits of linear PCM, full scale at the clip's peak"},
        (
            ("levels", lambda p: f"{2 ** int(p['bits'])}"),
            ("quantisation noise below a full-scale sine", lambda p: f"{6.02 * p['bits'] + 1.76:.0f} dB"),
        ),
    ),
    "mu_law": Meaning(
        {"bits": "bits after μ-law companding (μ = 255), full scale at the clip's peak"},
        (("levels", lambda p: f"{2 ** int(p['bits'])}"),),
    ),
    "speed": Meaning(
        {"change": "speed change: played 1 + change times faster or slower (equal odds)"},
        (
            ("playback factor", lambda p: f"×{1 + p['change']:.2f} or ×{1 / (1 + p['change']):.3f}"),
            ("pitch and formants move by", lambda p: f"±{12 * math.log2(1 + p['change']):.2f} semitones"),
        ),
    ),
    "time_stretch": Meaning(
        {"change": "tempo change: 1 + change times faster or slower (equal odds), pitch kept"},
        (("a 3-s clip then lasts", lambda p: f"{3 / (1 + p['change']):.2f} s or {3 * (1 + p['change']):.2f} s"),),
    ),
    "pitch_shift": Meaning(
        {"semitones": "pitch shift (semitones), up or down with equal odds, duration kept"},
        (
            ("frequency factor", lambda p: f"×{2 ** (p['semitones'] / 12):.3f} or ×{2 ** (-p['semitones'] / 12):.3f}"),
            (
                "an F0 of 120 Hz moves to",
                lambda p: f"{120 * 2 ** (p['semitones'] / 12):.0f} or {120 * 2 ** (-p['semitones'] / 12):.0f} Hz",
            ),
        ),
    ),
    "lowpass": Meaning(
        {"cutoff_hz": "cutoff frequency, the −6 dB point (Hz)"},
        (
            ("flat up to", lambda p: f"{_FLAT * p['cutoff_hz']:g} Hz"),
            ("nothing passes above", lambda p: f"{_STOP * p['cutoff_hz']:g} Hz"),
        ),
    ),
    "telephone": Meaning(
        {"low_hz": "lower band edge, −6 dB (Hz)", "high_hz": "upper band edge, −6 dB (Hz)"},
        (("band width", lambda p: f"{math.log2(p['high_hz'] / p['low_hz']):.2f} octaves"),),
    ),
    "reverb": Meaning(
        {"rt60_s": "reverberation time: the tail decays 60 dB in this many seconds (s)"},
        (("direct-to-reverberant ratio", lambda p: f"{10 * math.log10(_CRITICAL_RT60 / p['rt60_s']):+.1f} dB"),),
    ),
    "ir_reverb": Meaning(
        {"wet": "share of the reverberant signal in the mix (1 − wet)·dry + wet·reverberant"},
        (("dry share", lambda p: f"{1 - p['wet']:.1f}"),),
    ),
    "packet_loss": Meaning(
        {"fraction": f"share of the {packet_loss.PACKET_SECONDS * 1000:g}-ms packets zeroed"},
        (("packets lost per second", lambda p: f"{p['fraction'] / packet_loss.PACKET_SECONDS:g}"),),
    ),
    "time_shift": Meaning(
        {"shift_ms": "shift (ms), later or earlier with equal odds, silence filled in"},
        (("share of a 3-s window lost", lambda p: f"{p['shift_ms'] / 3000:.0%}"),),
    ),
    "eq": Meaning(
        {
            "tilt_db_per_octave": "spectral tilt about 1 kHz (dB per octave), sign from the seed",
            "band_db": "boost or cut of the shelf and of each of two peaking bands (dB)",
            "gain_db": "level change after the EQ (dB), louder or quieter with equal odds",
        },
        (("tilt at 125 Hz and at 8 kHz against 1 kHz", lambda p: f"±{3 * p['tilt_db_per_octave']:g} dB"),),
    ),
    "mp3": Meaning(
        {"bitrate_kbps": "constant MP3 bitrate (kbit/s)"},
        (("compression against 16-bit PCM at 16 kHz", lambda p: f"{_PCM_KBPS / p['bitrate_kbps']:.1f} : 1"),),
    ),
}


def check_meanings() -> None:
    """Every registered corruption has a `Meaning` naming exactly its parameters (else the page would lie)."""
    names = registry.names()
    for name in names:
        if name not in MEANINGS:
            raise SystemExit(f"corruption {name!r} has no entry in MEANINGS of {Path(__file__).name}")
        parameters = set(registry.corruption_class(name).severities)
        if set(MEANINGS[name].parameters) != parameters:
            raise SystemExit(
                f"MEANINGS[{name!r}] explains {sorted(MEANINGS[name].parameters)}, "
                f"the corruption has {sorted(parameters)}"
            )
    stale = set(MEANINGS) - set(names)
    if stale:
        raise SystemExit(f"MEANINGS names corruptions that are not registered: {sorted(stale)}")


# ------------------------------------------------------------------------------------------------ the audio
def synthetic_voice(speaker: int, seconds: float, utterance: int = 0) -> np.ndarray:
    """An utterance by the synthetic corpus's speaker `speaker` (its traits), made here, not read from disk."""
    settings = synthetic.CorpusSettings()
    sex = synthetic.speaker_sexes(settings)[speaker]
    traits = synthetic.speaker_traits(settings, speaker, sex)
    rng = np.random.default_rng([settings.corpus_seed, 1000, speaker, utterance])
    return voice.synthesize_utterance(traits, seconds, rng, SAMPLE_RATE)


def stand_in_impulse_response(seconds: float = 0.8, rt60_s: float = 0.6) -> np.ndarray:
    """A room-like impulse response: direct path, a few early reflections, an exponentially decaying tail.

    The repository ships no recorded impulse responses; `ir_reverb` reads this one for the picture.
    """
    rng = np.random.default_rng(7)
    samples = int(seconds * SAMPLE_RATE)
    time = np.arange(samples) / SAMPLE_RATE
    response = rng.standard_normal(samples) * 10 ** (-3 * time / rt60_s) * 0.05
    response[0] = 1.0
    for delay_ms, gain in ((7, 0.6), (13, -0.45), (21, 0.35), (29, -0.3)):
        response[int(delay_ms * SAMPLE_RATE / 1000)] += gain
    return response.astype(np.float32)


def resources(folder: Path) -> tuple[registry.Resources, str]:
    """The resources the data-driven corruptions need, made in `folder`, and a sentence saying what they are."""
    noise_dir, ir_dir = folder / "noise", folder / "ir"
    noise_dir.mkdir()
    ir_dir.mkdir()
    settings = synthetic.CorpusSettings()
    for name in synthetic.NOISE_NAMES:
        synthetic.write_wav(noise_dir / f"{name}.wav", synthetic.make_noise(name, settings), SAMPLE_RATE)
    synthetic.write_wav(ir_dir / "room.wav", stand_in_impulse_response(), SAMPLE_RATE)
    babble = [synthetic_voice(speaker, 3.0) for speaker in range(1, 9)]
    note = (
        f"`background_noise` draws from the generated corpus's noise recordings "
        f"({', '.join(synthetic.NOISE_NAMES)}; `keras_audio.corpora.synthetic.make_noise`), `babble` from "
        f"{len(babble)} utterances of other synthetic speakers, and `ir_reverb` from one stand-in impulse "
        f"response (a direct path, four early reflections and a 0.6-s decaying tail), since the repository "
        f"ships no recorded ones."
    )
    return registry.Resources(noise_dir=str(noise_dir), ir_dir=str(ir_dir), babble_waveforms=babble), note


# ------------------------------------------------------------------------------------------------- the page
def _fmt(value: float) -> str:
    return f"{value:g}"


def severity_table(name: str) -> str:
    """Parameters and derived quantities (rows) at severities 1..5 (columns), from the class's own values."""
    cls = registry.corruption_class(name)
    meaning = MEANINGS[name]
    header = "| severity | " + " | ".join(str(s) for s in range(1, NUM_SEVERITIES + 1)) + " |"
    lines = [header, "|---|" + "---:|" * NUM_SEVERITIES]
    for key, values in cls.severities.items():
        sign = "±" if key in cls.two_sided else ""
        lines.append(f"| `{key}`: {meaning.parameters[key]} | " + " | ".join(sign + _fmt(v) for v in values) + " |")
    for quantity, derive in meaning.derived:
        cells = [derive({key: values[s] for key, values in cls.severities.items()}) for s in range(NUM_SEVERITIES)]
        lines.append(f"| *{quantity}* | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def glance_table() -> str:
    """Every corruption's parameters at severities 1..5, one row per parameter, names linked to their sections."""
    lines = [
        "| corruption | family | parameter | " + " | ".join(str(s) for s in range(1, NUM_SEVERITIES + 1)) + " |",
        "|---|---|---|" + "---:|" * NUM_SEVERITIES,
    ]
    for family, members in registry.families().items():
        for name in members:
            cls = registry.corruption_class(name)
            for index, (key, values) in enumerate(cls.severities.items()):
                sign = "±" if key in cls.two_sided else ""
                first = [f"[`{name}`](#{name})", family] if index == 0 else ["", ""]
                lines.append("| " + " | ".join(first + [f"`{key}`"] + [sign + _fmt(v) for v in values]) + " |")
    return "\n".join(lines)


def first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def page(resources_note: str) -> str:
    """The whole catalogue page."""
    parts = [
        "# Corruption catalogue",
        "",
        f"<!-- Generated by `{COMMAND}`: edit the script or the corruption classes, not this page. -->",
        "",
        (
            "Every waveform corruption of the suite, with its parameter at severities 1 (mild) to 5 (strong), what "
            "those values mean physically, and what it does to one clip. Severities are bounded so that a listener "
            "would still give a clip its label at severity 5 (see `keras_audio/corruptions/base.py`). The tables "
            "are generated from the corruption classes themselves and the pictures from the library, by"
        ),
        "",
        f"```bash\n{COMMAND}\n```",
        "",
        "The pictures show the log-mel spectrogram the models see (the default front-end: "
        "`keras_audio.features.LogMelSpectrogram`, 64 bands, 10-ms hop) of a 3-s utterance by a synthetic "
        "voice (`keras_audio.corpora.voice`), clean and spoiled at severities 3 and 5 exactly as evaluation "
        f"spoils it (`pipeline.spoil_clip`, run seed {RUN_SEED}). Where a parameter goes up or down at random "
        "(± in the tables), the clip's seed picks the direction. " + resources_note,
        "",
        "## At a glance",
        "",
        glance_table(),
        "",
        registry.SPEC_AUGMENT_NOTE,
        "",
    ]
    for family, members in registry.families().items():
        parts += [f"## Family `{family}`", ""]
        for name in members:
            cls = registry.corruption_class(name)
            needs = registry.needs_resources(name)
            parts += [
                f"### `{name}`",
                "",
                f"**What it models:** {cls.description}. {first_paragraph(inspect.getdoc(cls))}",
                "",
                f"**Cue it touches:** {cls.touches}."
                + (f" **Needs:** `{'`, `'.join(needs)}` (`registry.Resources`)." if needs else ""),
                "",
                f"Class `{cls.__module__}.{cls.__qualname__}`.",
                "",
                severity_table(name),
                "",
                (
                    f"![{name}: log-mel spectrogram, clean and at severities "
                    f"{' and '.join(map(str, SHOWN_SEVERITIES))}]({IMAGE_FOLDER}/{name}.png)"
                ),
                "",
            ]
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------- the images
def spectrogram_images(folder: Path, resources_: registry.Resources, names: list[str]) -> None:
    features = FeatureConfig()
    layer = LogMelSpectrogram(
        SAMPLE_RATE,
        n_fft=features.n_fft,
        win_length=features.win_length,
        hop_length=features.hop_length,
        n_mels=features.n_mels,
        fmin=features.fmin,
        fmax=features.fmax,
        top_db=features.top_db,
    )
    import librosa

    mel_frequencies = librosa.mel_frequencies(
        features.n_mels + 2, fmin=features.fmin, fmax=features.fmax or SAMPLE_RATE / 2
    )[1:-1]
    clip = synthetic_voice(0, CLIP_SECONDS)
    samples = clip.shape[0]

    def log_mel(waveform) -> np.ndarray:
        return np.asarray(layer(np.asarray(waveform, np.float32)[None]))[0]

    clean = log_mel(clip)
    for name in names:
        corruption = registry.build(name, SAMPLE_RATE, resources_)
        panels = {"clean": clean}
        for severity in SHOWN_SEVERITIES:
            spoiled = spoil_clip(clip, name_hash(CLIP_ID), corruption, severity, RUN_SEED, samples)
            setting = corruption.table_row()[str(severity)]
            panels[f"severity {severity}\n" + textwrap.fill(setting, 42)] = log_mel(spoiled)
        plots.spectrogram_gallery(
            panels,
            folder / f"{name}.png",
            title=name,
            hop_seconds=features.hop_length / SAMPLE_RATE,
            mel_frequencies=mel_frequencies,
        )
        print(f"wrote {folder / f'{name}.png'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=REPO / "docs", help="the docs folder to write into")
    parser.add_argument("--only", nargs="*", help="draw only these corruptions' pictures (the page is always whole)")
    args = parser.parse_args(argv)
    check_meanings()
    names = registry.names() if not args.only else args.only
    for name in names:
        try:
            registry.corruption_class(name)  # an unknown name fails before any work
        except ValueError as error:
            raise SystemExit(str(error)) from None
    with tempfile.TemporaryDirectory() as scratch:
        resources_, note = resources(Path(scratch))
        spectrogram_images(args.docs / IMAGE_FOLDER, resources_, names)
    (args.docs / "corruptions.md").write_text(page(note), encoding="utf-8")
    print(f"wrote {args.docs / 'corruptions.md'}")


if __name__ == "__main__":
    main()
