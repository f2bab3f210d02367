"""A small source-filter voice synthesiser in NumPy: speaker traits + a seed -> a speech-like waveform.

It makes the project's default corpus (`synthetic.py`): voices whose sex shows in the cues real voices
carry it in (pitch, formant spacing, breathiness), with realistic overlap between the sexes, and with the
nuisances a classifier must ignore (what is said, speaking rate, loudness, microphone colouring).

How a waveform is made (`synthesize_utterance`):

1. **Plan** (`plan_utterance`): phrases of syllables separated by pauses. A syllable is an optional onset
   consonant, a vowel (one of 12 American English vowels, formant targets of adult men from Hillenbrand
   et al. 1995) and an optional coda. Consonants are fricatives (``s sh f th hh``, voiced ``z v``),
   plosives (closure, release burst, aspiration; voiced ``b d g`` with a short voice onset) and nasals.
   Durations scale with the speaker's speaking rate.
2. **Control tracks**: per frame (8 ms) F1-F3 and their bandwidths (consonants without their own
   targets glide between the neighbouring vowels, and all tracks are smoothed, which gives
   coarticulation-like transitions), the frication band, and an F0 contour: phrase declination, accents
   on stressed syllables, a final fall (or a question rise), slow wander, centred so the utterance's
   mean F0 is the speaker's (± 0.8 semitone per utterance). Per sample: the amplitudes of voicing,
   aspiration and frication (bursts get a sharp onset and exponential decay).
3. **Sources** (`glottal_source`): Rosenberg glottal pulses driven by the F0 contour, with per-cycle
   jitter (period) and shimmer (amplitude), differentiated for lip radiation; white noise for
   aspiration (breathiness) and frication.
4. **Filter** (`tract_response`, `cascade_response`, `filter_frames`): the vocal tract is a cascade of
   seven 2nd-order resonators (Klatt-style, unit gain at DC; F1-F3 follow the phones, F4-F7 stay put),
   all frequencies multiplied by the speaker's formant scale, times a source spectral tilt that
   steepens with breathiness. The magnitude response is evaluated per frame and applied in a weighted
   overlap-add STFT (512-point Hann, hop 128 at 16 kHz), which lets formants glide smoothly without a
   per-sample IIR recursion in Python. Voicing and aspiration go through the tract; frication through
   a single resonance at the consonant's place, high-passed below it.
5. **Channel** (`channel_sos`): a per-speaker fixed microphone colouring (high-pass, high-shelf tilt,
   one peaking resonance; RBJ biquads via `scipy.signal.sosfilt`), then the utterance loudness, a
   per-speaker noise floor, and a peak limit at 0.98.

Every function takes its randomness from a `numpy.random.Generator` passed in, so callers decide the
streams (one per speaker, one per utterance) and results do not depend on the order of generation.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.fft
from scipy import signal

SAMPLE_RATE = 16000

# Adult male F1-F3 in Hz (Hillenbrand et al. 1995, men's averages), ARPAbet names.
VOWELS: dict[str, tuple[float, float, float]] = {
    "iy": (342.0, 2322.0, 3000.0),
    "ih": (427.0, 2034.0, 2684.0),
    "ey": (476.0, 2089.0, 2691.0),
    "eh": (580.0, 1799.0, 2605.0),
    "ae": (588.0, 1952.0, 2601.0),
    "aa": (768.0, 1333.0, 2522.0),
    "ao": (652.0, 997.0, 2538.0),
    "ow": (497.0, 910.0, 2459.0),
    "uh": (469.0, 1122.0, 2434.0),
    "uw": (378.0, 997.0, 2343.0),
    "ah": (623.0, 1200.0, 2550.0),
    "er": (474.0, 1379.0, 1710.0),
}
HIGHER_FORMANTS = (3500.0, 4500.0, 5500.0, 6500.0)  # F4-F7 of the reference (male) tract
BANDWIDTHS = (70.0, 100.0, 150.0, 250.0, 300.0, 500.0, 700.0)  # B1..B7 in Hz for a modal voice

# Nasal murmurs: low F1, damped upper formants (place sets F2).
NASALS: dict[str, tuple[float, float, float]] = {
    "m": (280.0, 1100.0, 2300.0),
    "n": (280.0, 1500.0, 2500.0),
    "ng": (280.0, 2000.0, 2700.0),
}
NASAL_BANDWIDTHS = (100.0, 300.0, 400.0)  # B1..B3

# Fricatives: (centre Hz, bandwidth Hz, frication amplitude, voicing amplitude); "hh" is aspiration.
FRICATIVES: dict[str, tuple[float, float, float, float]] = {
    "s": (5500.0, 2500.0, 0.9, 0.0),
    "sh": (2900.0, 1600.0, 1.0, 0.0),
    "f": (4500.0, 7000.0, 0.25, 0.0),
    "th": (5200.0, 7000.0, 0.2, 0.0),
    "z": (5500.0, 2500.0, 0.5, 0.35),
    "v": (4500.0, 7000.0, 0.15, 0.45),
}
# Plosives: (burst centre Hz, burst bandwidth Hz, voiced).
PLOSIVES: dict[str, tuple[float, float, bool]] = {
    "p": (1200.0, 3000.0, False),
    "t": (4200.0, 2500.0, False),
    "k": (2200.0, 1200.0, False),
    "b": (1200.0, 3000.0, True),
    "d": (4200.0, 2500.0, True),
    "g": (2200.0, 1200.0, True),
}

_ASPIRATION_HIGHPASS_HZ = 1000.0
# Source gains relative to voicing, set by eye on spectrograms: fricatives ~10-20 dB below vowels.
_ASPIRATION_GAIN = 0.35
_FRICATION_GAIN = 0.8
_BREATH_PER_VOICING = 0.35  # aspiration added to voicing at breathiness 1
# Mean syllable length (onset + vowel + coda) at duration scale 1, used to map syllables/s to durations.
_MEAN_SYLLABLE_SECONDS = 0.215


@dataclasses.dataclass(frozen=True)
class Channel:
    """A fixed microphone/room colouring and noise floor (one per speaker in the corpus).

    Attributes:
        highpass_hz: corner of a 2nd-order Butterworth high-pass (microphone low cut).
        tilt_db: gain of a high shelf at 2 kHz (negative: duller, positive: brighter).
        peak_hz, peak_gain_db, peak_q: one peaking-EQ resonance (capsule or room mode).
        noise_floor_dbfs: RMS of the white noise floor added after the speech, in dB full scale.
    """

    highpass_hz: float = 50.0
    tilt_db: float = 0.0
    peak_hz: float = 1000.0
    peak_gain_db: float = 0.0
    peak_q: float = 1.0
    noise_floor_dbfs: float = -70.0


@dataclasses.dataclass(frozen=True)
class SpeakerTraits:
    """What stays the same across one speaker's utterances.

    Attributes:
        sex: ``female`` or ``male`` (a label only; the synthesiser reads the numeric traits).
        f0_hz: the speaker's mean fundamental frequency (geometric mean over voiced speech).
        f0_range_st: size of pitch accents, in semitones (intonation liveliness).
        formant_scale: formant frequencies relative to the reference adult male tract (≈ inverse
            vocal-tract length: 1.0 ≈ 17.5 cm, 1.17 ≈ 15 cm).
        breathiness: aspiration noise relative to voicing, 0 (pressed) to 1 (very breathy); also widens
            the glottal open phase's effect on F1 damping and the spectral tilt.
        open_quotient: fraction of each glottal cycle the glottis is open (0.3..0.9).
        speaking_rate: syllables per second, pauses excluded (approximate).
        jitter: relative standard deviation of the glottal period from cycle to cycle.
        shimmer: relative standard deviation of the glottal pulse amplitude from cycle to cycle.
        level_dbfs: the speaker's usual speech level (RMS over active speech).
        channel: the speaker's recording channel.
    """

    sex: str
    f0_hz: float
    f0_range_st: float = 3.0
    formant_scale: float = 1.0
    breathiness: float = 0.2
    open_quotient: float = 0.6
    speaking_rate: float = 4.5
    jitter: float = 0.005
    shimmer: float = 0.03
    level_dbfs: float = -24.0
    channel: Channel = dataclasses.field(default_factory=Channel)

    def validate(self) -> SpeakerTraits:
        checks = {
            "f0_hz": 40.0 <= self.f0_hz <= 600.0,
            "f0_range_st": 0.0 <= self.f0_range_st <= 12.0,
            "formant_scale": 0.6 <= self.formant_scale <= 1.6,
            "breathiness": 0.0 <= self.breathiness <= 1.0,
            "open_quotient": 0.3 <= self.open_quotient <= 0.95,
            "speaking_rate": 1.0 <= self.speaking_rate <= 10.0,
            "jitter": 0.0 <= self.jitter <= 0.1,
            "shimmer": 0.0 <= self.shimmer <= 0.5,
            "level_dbfs": -60.0 <= self.level_dbfs <= -3.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"SpeakerTraits.{name} out of range: {getattr(self, name)!r}")
        return self

    def to_row(self) -> dict[str, float | str]:
        """Flat dict (channel fields prefixed ``channel_``) for a traits table."""
        row = {k: v for k, v in dataclasses.asdict(self).items() if k != "channel"}
        row.update({f"channel_{k}": v for k, v in dataclasses.asdict(self.channel).items()})
        return row


# ---------------------------------------------------------------------------------------------- source
def rosenberg_pulse(phase: np.ndarray, open_quotient: float) -> np.ndarray:
    """Glottal flow of a Rosenberg (type C) pulse at cycle phase in [0, 1); peak 1, closed after the
    open phase. Opening takes 70 % of the open phase, closing 30 % (ending in an abrupt closure, the
    main excitation of the vocal tract)."""
    opening = 0.7 * open_quotient
    closing = 0.3 * open_quotient
    flow = np.zeros_like(phase)
    rising = phase < opening
    flow[rising] = 0.5 * (1.0 - np.cos(np.pi * phase[rising] / opening))
    falling = ~rising & (phase < opening + closing)
    flow[falling] = np.cos(0.5 * np.pi * (phase[falling] - opening) / closing)
    return flow


def glottal_source(
    f0: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    open_quotient: float = 0.6,
    jitter: float = 0.0,
    shimmer: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Differentiated glottal flow (flow derivative = source with lip radiation) following an F0 track.

    Args:
        f0: F0 in Hz per sample, shape `[samples]`, all positive.
        sample_rate: in Hz.
        open_quotient: fraction of each cycle the glottis is open.
        jitter: relative sd of each cycle's period.
        shimmer: relative sd of each cycle's amplitude.
        rng: required when jitter or shimmer is positive.

    Returns:
        float64 `[samples]`, scaled to unit RMS. With jitter = shimmer = 0 and a constant F0 that divides
        the sample rate, it is exactly periodic.
    """
    f0 = np.asarray(f0, dtype=np.float64)
    if f0.ndim != 1 or f0.size == 0:
        raise ValueError(f"f0 must be a non-empty 1-D array, got shape {f0.shape}")
    if not np.all(f0 > 0):
        raise ValueError(f"f0 must be positive everywhere, got min {f0.min()}")
    if not 0.3 <= open_quotient <= 0.95:
        raise ValueError(f"open_quotient must be in [0.3, 0.95], got {open_quotient}")
    if jitter < 0 or shimmer < 0:
        raise ValueError(f"jitter and shimmer must be >= 0, got {jitter}, {shimmer}")
    if (jitter > 0 or shimmer > 0) and rng is None:
        raise ValueError("rng is required when jitter or shimmer is positive")
    increments = f0 / sample_rate
    phase = np.cumsum(increments) - increments[0]
    cycles = int(phase[-1]) + 2
    if jitter > 0:
        # Each cycle's frequency (hence its period) is perturbed by its own factor.
        factors = 1.0 + np.clip(rng.normal(0.0, jitter, cycles), -0.3, 0.3)
        increments = increments * factors[phase.astype(np.int64)]
        phase = np.cumsum(increments) - increments[0]
        cycles = int(phase[-1]) + 2
    cycle = phase.astype(np.int64)
    flow = rosenberg_pulse(phase - cycle, open_quotient)
    if shimmer > 0:
        amplitudes = np.clip(1.0 + rng.normal(0.0, shimmer, cycles), 0.2, None)
        flow *= amplitudes[cycle]
    derivative = np.diff(flow, prepend=0.0)
    rms = np.sqrt(np.mean(derivative**2))
    return derivative / rms if rms > 0 else derivative


# ---------------------------------------------------------------------------------------------- filter
def frame_params(sample_rate: int) -> tuple[int, int]:
    """(n_fft, hop) of the synthesis filterbank: ~32 ms Hann windows with 75 % overlap."""
    n_fft = int(2 ** round(math.log2(0.032 * sample_rate)))
    return n_fft, n_fft // 4


def cascade_response(frequencies: np.ndarray, bandwidths: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
    """Magnitude response of a cascade of 2nd-order digital resonators, each with unit gain at DC.

    Args:
        frequencies: resonance frequencies in Hz, shape `[frames, resonators]`.
        bandwidths: -3 dB bandwidths in Hz, same shape.
        n_fft: FFT size; the response is evaluated at its `n_fft // 2 + 1` bins.

    Returns:
        float32 `[frames, n_fft // 2 + 1]`.
    """
    frequencies = np.asarray(frequencies, dtype=np.float64)
    bandwidths = np.asarray(bandwidths, dtype=np.float64)
    if frequencies.shape != bandwidths.shape or frequencies.ndim != 2:
        raise ValueError(
            f"frequencies and bandwidths must both be [frames, resonators], got {frequencies.shape} "
            f"and {bandwidths.shape}"
        )
    nyquist = sample_rate / 2
    if np.any(frequencies <= 0) or np.any(frequencies >= nyquist) or np.any(bandwidths <= 0):
        raise ValueError(f"resonances must lie in (0, {nyquist}) Hz with positive bandwidths")
    omega = 2 * np.pi * np.arange(n_fft // 2 + 1) / n_fft
    cos_w = np.cos(omega).astype(np.float32)
    sin_w = np.sin(omega).astype(np.float32)
    radius = np.exp(-np.pi * bandwidths / sample_rate)
    theta = 2 * np.pi * frequencies / sample_rate
    a = (1 + radius**2)[..., None].astype(np.float32)
    two_r_cos = (2 * radius * np.cos(theta))[..., None].astype(np.float32)
    two_r_sin = (2 * radius * np.sin(theta))[..., None].astype(np.float32)
    # |1 - r e^{j(θ-ω)}|² |1 - r e^{-j(θ+ω)}|², with cos(ω∓θ) = cos ω cos θ ± sin ω sin θ.
    p = two_r_cos * cos_w
    q = two_r_sin * sin_w
    denominator = (a - p - q) * (a - p + q)
    numerator = (a - two_r_cos) ** 2  # the same at ω = 0: unit gain at DC
    power = np.prod(numerator / denominator, axis=1)
    return np.sqrt(power).astype(np.float32)


def tract_response(
    formants: np.ndarray,
    bandwidths: np.ndarray,
    formant_scale: float = 1.0,
    breathiness: float = 0.0,
    n_fft: int = 512,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Vocal-tract magnitude response per frame: F1-F3 from the frame's targets, F4-F7 fixed, all scaled.

    Args:
        formants: F1-F3 of the reference (male) tract, Hz, `[frames, 3]`.
        bandwidths: B1-B3 in Hz, `[frames, 3]` (widened further by `breathiness`: an open glottis damps
            the low formants).
        formant_scale: multiplies every formant frequency (shorter tract: higher formants).
        breathiness: 0..1; also lowers the corner of the source's extra spectral tilt.
        n_fft, sample_rate: the filterbank.

    Returns:
        float32 `[frames, n_fft // 2 + 1]`.
    """
    formants = np.asarray(formants, dtype=np.float64)
    ceiling = 0.45 * sample_rate
    widen = 1 + 0.8 * breathiness * np.array([1.0, 0.5, 0.3])
    low = cascade_response(
        np.minimum(formants * formant_scale, ceiling - 600.0), np.asarray(bandwidths) * widen, n_fft, sample_rate
    )
    # F4-F7 stay put within a speaker: one response for all frames (kept in order below the ceiling).
    high = np.minimum(np.array(HIGHER_FORMANTS) * formant_scale, ceiling - 150.0 * np.arange(3, -1, -1))
    high = cascade_response(high[None], np.array(BANDWIDTHS[3:])[None], n_fft, sample_rate)
    bins = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    tilt_hz = 4000.0 - 2500.0 * breathiness
    tilt = 1 / np.sqrt(1 + (bins / tilt_hz) ** 2)
    return low * (high[0] * tilt).astype(np.float32)[None]


def _hann(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def num_frames(samples: int, hop: int) -> int:
    """Frames of the synthesis filterbank for `samples` samples (frame t is centred on sample t·hop)."""
    return -(-samples // hop) + 1


def filter_frames(sources: list[tuple[np.ndarray, np.ndarray]], n_fft: int, hop: int) -> np.ndarray:
    """Apply per-frame magnitude responses to signals and sum them (weighted overlap-add).

    Args:
        sources: (waveform `[samples]`, magnitude `[frames, n_fft // 2 + 1]`) pairs, all of the same
            length, with `frames = num_frames(samples, hop)`.
        n_fft, hop: the filterbank; `n_fft` must be a multiple of `hop`.

    Returns:
        float32 `[samples]`: the sum of each waveform filtered by its time-varying response.
    """
    if n_fft % hop:
        raise ValueError(f"n_fft ({n_fft}) must be a multiple of hop ({hop})")
    samples = sources[0][0].shape[0]
    frames = num_frames(samples, hop)
    window = _hann(n_fft)
    pad = n_fft // 2
    padded_length = (frames - 1) * hop + n_fft
    spectrum = None
    for waveform, magnitude in sources:
        if waveform.shape != (samples,) or magnitude.shape != (frames, n_fft // 2 + 1):
            raise ValueError(
                f"each source needs a [{samples}] waveform and a [{frames}, {n_fft // 2 + 1}] response, "
                f"got {waveform.shape} and {magnitude.shape}"
            )
        padded = np.zeros(padded_length, dtype=np.float32)
        padded[pad : pad + samples] = waveform
        framed = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop] * window
        filtered = scipy.fft.rfft(framed, axis=1) * magnitude  # float32 in, complex64 out
        spectrum = filtered if spectrum is None else spectrum + filtered
    framed_out = scipy.fft.irfft(spectrum, n=n_fft, axis=1) * window
    overlap = n_fft // hop
    blocks = np.zeros((frames + overlap - 1, hop), dtype=np.float32)
    norm = np.zeros_like(blocks)
    window_sq = (window**2).reshape(overlap, hop)
    pieces = framed_out.reshape(frames, overlap, hop)
    for k in range(overlap):
        blocks[k : k + frames] += pieces[:, k]
        norm[k : k + frames] += window_sq[k]
    out = blocks.ravel()[pad : pad + samples]
    return out / np.maximum(norm.ravel()[pad : pad + samples], 1e-3)


# --------------------------------------------------------------------------------------------- channel
def _biquad_peaking(freq: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    a_gain = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sample_rate
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a_gain, -2 * np.cos(w0), 1 - alpha * a_gain]
    a = [1 + alpha / a_gain, -2 * np.cos(w0), 1 - alpha / a_gain]
    return np.concatenate([b, a]) / a[0]


def _biquad_high_shelf(freq: float, gain_db: float, sample_rate: int) -> np.ndarray:
    a_gain = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sample_rate
    alpha = np.sin(w0) / 2 * np.sqrt(2.0)  # shelf slope S = 1
    cos_w0, root = np.cos(w0), 2 * np.sqrt(a_gain) * alpha
    b = [
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos_w0 + root),
        -2 * a_gain * ((a_gain - 1) + (a_gain + 1) * cos_w0),
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos_w0 - root),
    ]
    a = [
        (a_gain + 1) - (a_gain - 1) * cos_w0 + root,
        2 * ((a_gain - 1) - (a_gain + 1) * cos_w0),
        (a_gain + 1) - (a_gain - 1) * cos_w0 - root,
    ]
    return np.concatenate([b, a]) / a[0]


def channel_sos(channel: Channel, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Second-order sections of a channel's colouring: high-pass, 2 kHz high shelf, peaking resonance."""
    highpass = signal.butter(2, channel.highpass_hz, btype="highpass", fs=sample_rate, output="sos")
    shelf = _biquad_high_shelf(2000.0, channel.tilt_db, sample_rate)
    peak = _biquad_peaking(channel.peak_hz, channel.peak_gain_db, channel.peak_q, sample_rate)
    return np.vstack([highpass, shelf[None], peak[None]])


# ------------------------------------------------------------------------------------------------ plan
@dataclasses.dataclass
class Segment:
    """One stretch of an utterance plan with constant targets.

    kind: ``silence``, ``vowel``, ``nasal``, ``fricative``, ``aspiration``, ``closure`` or ``burst``.
    formants: F1-F3 targets of the reference tract (vowels, nasals), else None (glide between
        neighbours).
    """

    kind: str
    seconds: float
    phone: str = ""
    voicing: float = 0.0
    aspiration: float = 0.0
    frication: float = 0.0
    formants: tuple[float, float, float] | None = None
    band: tuple[float, float] | None = None  # frication centre, bandwidth (Hz, reference tract)
    accent: float = 0.0  # pitch accent height as a fraction of the speaker's range
    phrase: int = 0


def _syllable(rng: np.random.Generator, scale: float, stressed: bool, phrase: int) -> list[Segment]:
    segments: list[Segment] = []
    onset = rng.choice(["none", "plosive", "fricative", "nasal", "hh"], p=[0.25, 0.32, 0.25, 0.12, 0.06])
    segments += _consonant(onset, rng, scale, phrase, onset=True)
    vowel = str(rng.choice(list(VOWELS)))
    seconds = rng.uniform(0.085, 0.15) * scale * (1.35 if stressed else 1.0)
    accent = rng.uniform(0.4, 1.0) if stressed else 0.0
    segments.append(Segment("vowel", seconds, vowel, voicing=1.0, formants=VOWELS[vowel], accent=accent, phrase=phrase))
    coda = rng.choice(["none", "plosive", "fricative", "nasal"], p=[0.45, 0.2, 0.2, 0.15])
    segments += _consonant(coda, rng, scale, phrase, onset=False)
    return segments


def _consonant(kind: str, rng: np.random.Generator, scale: float, phrase: int, onset: bool) -> list[Segment]:
    if kind == "none":
        return []
    if kind == "hh":
        return [Segment("aspiration", rng.uniform(0.05, 0.09) * scale, "hh", aspiration=0.5, phrase=phrase)]
    if kind == "nasal":
        name = str(rng.choice(list(NASALS)))
        return [
            Segment("nasal", rng.uniform(0.05, 0.09) * scale, name, voicing=0.35, formants=NASALS[name], phrase=phrase)
        ]
    if kind == "fricative":
        name = str(rng.choice(list(FRICATIVES)))
        centre, width, frication, voicing = FRICATIVES[name]
        return [
            Segment(
                "fricative",
                rng.uniform(0.07, 0.13) * scale,
                name,
                voicing=voicing,
                frication=frication,
                band=(centre, width),
                phrase=phrase,
            )
        ]
    name = str(rng.choice(list(PLOSIVES)))
    centre, width, voiced = PLOSIVES[name]
    segments = [
        Segment("closure", rng.uniform(0.035, 0.07) * scale, name, voicing=0.04 if voiced else 0.0, phrase=phrase),
        Segment(
            "burst",
            rng.uniform(0.008, 0.015),
            name,
            frication=0.6 if voiced else 1.2,
            band=(centre, width),
            phrase=phrase,
        ),
    ]
    if not voiced and onset:
        segments.append(Segment("aspiration", rng.uniform(0.025, 0.06) * scale, name, aspiration=0.35, phrase=phrase))
    return segments


def plan_utterance(traits: SpeakerTraits, seconds: float, rng: np.random.Generator) -> list[Segment]:
    """Phrases of syllables and pauses filling `seconds` exactly (leading and trailing silence included).

    Durations scale with the speaker's rate (jittered a little per utterance).
    """
    if not 0.5 <= seconds <= 30.0:
        raise ValueError(f"seconds must be in [0.5, 30], got {seconds}")
    rate = traits.speaking_rate * float(np.exp(rng.normal(0.0, 0.07)))
    scale = 1.0 / (rate * _MEAN_SYLLABLE_SECONDS)
    room = min(1.0, seconds / 2)  # short utterances get shorter edges
    lead = rng.uniform(0.08, 0.3) * room
    trail = rng.uniform(0.08, 0.25) * room
    budget = seconds - lead - trail
    plan = [Segment("silence", lead)]
    elapsed, phrase, syllables = 0.0, 0, 0
    while True:
        phrase_syllables = int(rng.integers(2, 9))
        pause = Segment("silence", rng.uniform(0.12, 0.4)) if syllables else None
        if pause is not None and elapsed + pause.seconds + 0.3 > budget:
            break
        phrase_plan = [pause] if pause is not None else []
        phrase_time = pause.seconds if pause is not None else 0.0
        for index in range(phrase_syllables):
            stressed = index == 0 or rng.random() < 0.3
            syllable = _syllable(rng, scale, stressed, phrase)
            length = sum(s.seconds for s in syllable)
            if elapsed + phrase_time + length > budget:
                break
            phrase_plan += syllable
            phrase_time += length
            syllables += 1
        if len(phrase_plan) <= (pause is not None):
            break
        plan += phrase_plan
        elapsed += phrase_time
        phrase += 1
    if syllables == 0:  # too short for a full syllable: one vowel
        vowel = str(rng.choice(list(VOWELS)))
        plan.append(Segment("vowel", budget, vowel, voicing=1.0, formants=VOWELS[vowel], accent=0.7))
        elapsed = budget
    plan.append(Segment("silence", seconds - lead - elapsed))
    return plan


# ---------------------------------------------------------------------------------------------- render
def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over `width` samples along axis 0 (edge values held), twice (triangular)."""
    if width <= 1:
        return x
    for _ in range(2):
        half = width // 2
        padded = np.concatenate([np.repeat(x[:1], half + 1, axis=0), x, np.repeat(x[-1:], width - half, axis=0)])
        cumulative = np.cumsum(padded, axis=0)
        x = (cumulative[width : width + len(x)] - cumulative[: len(x)]) / width
    return x


def _fill_gaps(values: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN rows (columns independently); all-NaN columns take `default`."""
    out = values.copy()
    rows = np.arange(len(values))
    for column in range(values.shape[1]):
        known = ~np.isnan(values[:, column])
        out[:, column] = np.interp(rows, rows[known], values[known, column]) if known.any() else default[column]
    return out


def _f0_contour(
    plan: list[Segment],
    bounds: np.ndarray,
    traits: SpeakerTraits,
    times: np.ndarray,
    voiced: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """F0 in Hz at `times`: per-phrase declination and final fall/rise, accents and wander around an
    utterance base; the base is the geometric mean F0 over the `voiced` times (so `traits.f0_hz` is the
    speaker's mean F0, give or take the utterance's own ±0.8 semitone)."""
    base = traits.f0_hz * 2 ** (rng.normal(0.0, 0.8) / 12)
    semitones = np.zeros_like(times)
    phrases = sorted({s.phrase for s in plan if s.kind != "silence"})
    for phrase in phrases:
        indices = [i for i, s in enumerate(plan) if s.phrase == phrase and s.kind != "silence"]
        start, stop = bounds[indices[0]], bounds[indices[-1] + 1]
        inside = (times >= start) & (times < stop)
        position = (times[inside] - start) / max(stop - start, 1e-3)
        declination = rng.uniform(1.5, 4.0)
        semitones[inside] += declination * (0.5 - position)
        last = [i for i in indices if plan[i].kind == "vowel"][-1:]
        if last:
            v_start, v_stop = bounds[last[0]], bounds[last[0] + 1]
            ending = (times >= v_start) & (times < v_stop)
            shape = (times[ending] - v_start) / max(v_stop - v_start, 1e-3)
            change = rng.uniform(3.0, 6.0) if rng.random() < 0.15 else -rng.uniform(1.0, 3.0)
            semitones[ending] += change * shape
    for i, segment in enumerate(plan):
        if segment.accent > 0:
            centre = 0.5 * (bounds[i] + bounds[i + 1])
            width = max(bounds[i + 1] - bounds[i], 0.06)
            semitones += segment.accent * traits.f0_range_st * np.exp(-0.5 * ((times - centre) / (0.6 * width)) ** 2)
    knots = np.arange(0.0, times[-1] + 0.25, 0.2)
    semitones += np.interp(times, knots, rng.normal(0.0, 0.35, knots.size))
    if voiced.any():
        semitones -= semitones[voiced].mean()
    return base * 2 ** (semitones / 12)


def synthesize_utterance(
    traits: SpeakerTraits,
    seconds: float,
    rng: np.random.Generator,
    sample_rate: int = SAMPLE_RATE,
    level_jitter_db: float = 2.5,
) -> np.ndarray:
    """One utterance of `seconds` (rounded to samples) by the speaker `traits`.

    Args:
        traits: the speaker.
        seconds: length of the waveform, 0.5 to 30 s.
        rng: this utterance's random stream (the plan, F0 details, noise).
        sample_rate: in Hz (formants are kept below 0.45 × the rate).
        level_jitter_db: sd of the utterance's loudness around the speaker's level.

    Returns:
        float32 `[round(seconds * sample_rate)]` in [-0.98, 0.98].
    """
    traits.validate()
    plan = plan_utterance(traits, seconds, rng)
    return render(plan, traits, rng, sample_rate, level_jitter_db)


def render(
    plan: list[Segment],
    traits: SpeakerTraits,
    rng: np.random.Generator,
    sample_rate: int = SAMPLE_RATE,
    level_jitter_db: float = 2.5,
) -> np.ndarray:
    """Turn an utterance plan into a waveform (steps 2-5 of the module docstring).

    Args:
        plan: segments from `plan_utterance`; the waveform lasts their total duration.
        traits: the speaker.
        rng: draws the F0 details, jitter, shimmer, noise sources and the utterance's loudness.
        sample_rate: in Hz.
        level_jitter_db: sd of the utterance's loudness around `traits.level_dbfs`.

    Returns:
        float32 `[samples]` in [-0.98, 0.98].
    """
    n_fft, hop = frame_params(sample_rate)
    seconds = sum(s.seconds for s in plan)
    samples = int(round(seconds * sample_rate))
    bounds = np.concatenate([[0.0], np.cumsum([s.seconds for s in plan])])
    sample_bounds = np.minimum(np.round(bounds * sample_rate).astype(np.int64), samples)
    sample_bounds[-1] = samples
    lengths = np.diff(sample_bounds)

    # Per-sample amplitudes, smoothed over ~5 ms (x2) so onsets are quick but click-free.
    amplitudes = np.repeat(np.array([[s.voicing, s.aspiration, s.frication] for s in plan]), lengths, axis=0)
    is_burst = np.repeat(np.array([s.kind == "burst" for s in plan]), lengths)
    bursts = np.where(is_burst, amplitudes[:, 2], 0.0)
    amplitudes[is_burst, 2] = 0.0
    amplitudes = _smooth(amplitudes, int(0.005 * sample_rate))
    voicing, aspiration, frication = amplitudes.T
    for i in np.flatnonzero([s.kind == "burst" for s in plan]):
        start, stop = sample_bounds[i], sample_bounds[i + 1]
        decay = np.exp(-np.arange(stop - start) / (0.004 * sample_rate))
        frication[start:stop] += bursts[start:stop] * decay
    aspiration = aspiration + _BREATH_PER_VOICING * traits.breathiness * voicing

    # Per-frame tract and frication-band targets (frame t centred on sample t * hop).
    frames = num_frames(samples, hop)
    frame_times = np.arange(frames) * hop / sample_rate
    segment_of_frame = np.clip(np.searchsorted(bounds, frame_times, side="right") - 1, 0, len(plan) - 1)
    targets = np.array([s.formants if s.formants is not None else (np.nan,) * 3 for s in plan])
    formants = _fill_gaps(targets[segment_of_frame], np.array(VOWELS["ah"]))
    formants = _smooth(formants, 5)
    nasal = _smooth(np.array([s.kind == "nasal" for s in plan])[segment_of_frame].astype(float), 3)[:, None]
    bandwidths = np.array(BANDWIDTHS[:3]) + nasal * (np.array(NASAL_BANDWIDTHS) - np.array(BANDWIDTHS[:3]))
    tract = tract_response(formants, bandwidths, traits.formant_scale, traits.breathiness, n_fft, sample_rate)
    bins = np.fft.rfftfreq(n_fft, 1 / sample_rate).astype(np.float32)

    band_targets = np.array([s.band if s.band is not None else (np.nan, np.nan) for s in plan])
    band = _fill_gaps(band_targets[segment_of_frame], np.array([4000.0, 3000.0]))
    # The front cavity that shapes frication scales less than the whole tract.
    band_centre = np.minimum(band[:, :1] * np.sqrt(traits.formant_scale), 0.42 * sample_rate)
    fric_band = cascade_response(band_centre, band[:, 1:], n_fft, sample_rate)
    fric_band /= fric_band.max(axis=1, keepdims=True)
    fric_band *= bins[None] ** 4 / (bins[None] ** 4 + (0.6 * band_centre) ** 4)  # little below the band
    aspiration_shape = (bins**2 / (bins**2 + _ASPIRATION_HIGHPASS_HZ**2))[None]

    # Sources.
    sample_times = np.arange(samples) / sample_rate
    voiced_frames = np.array([s.voicing > 0 for s in plan])[segment_of_frame]
    f0 = _f0_contour(plan, bounds, traits, frame_times, voiced_frames, rng)
    voice = glottal_source(
        np.interp(sample_times, frame_times, f0), sample_rate, traits.open_quotient, traits.jitter, traits.shimmer, rng
    )
    breath = rng.standard_normal(samples, dtype=np.float32)
    hiss = rng.standard_normal(samples, dtype=np.float32)
    waveform = filter_frames(
        [
            ((voice * voicing).astype(np.float32), tract),
            ((breath * aspiration).astype(np.float32), tract * aspiration_shape * _ASPIRATION_GAIN),
            ((hiss * frication).astype(np.float32), fric_band * _FRICATION_GAIN),
        ],
        n_fft,
        hop,
    )

    # Channel, loudness, noise floor, peak limit.
    waveform = signal.sosfilt(channel_sos(traits.channel, sample_rate), waveform)
    active = (voicing + aspiration + frication) > 0.05
    rms = np.sqrt(np.mean(waveform[active] ** 2)) if active.any() else np.sqrt(np.mean(waveform**2))
    level = traits.level_dbfs + rng.normal(0.0, level_jitter_db)
    waveform *= 10 ** (level / 20) / max(rms, 1e-12)
    waveform += rng.standard_normal(samples, dtype=np.float32) * 10 ** (traits.channel.noise_floor_dbfs / 20)
    peak = np.max(np.abs(waveform))
    if peak > 0.98:
        waveform *= 0.98 / peak
    return waveform.astype(np.float32)


def synthesize_vowel(
    f0_hz: float,
    seconds: float,
    vowel: str = "aa",
    formant_scale: float = 1.0,
    open_quotient: float = 0.6,
    jitter: float = 0.0,
    shimmer: float = 0.0,
    breathiness: float = 0.0,
    sample_rate: int = SAMPLE_RATE,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A steady vowel at constant F0: the synthesiser's building block, for tests and demonstrations.

    With jitter = shimmer = breathiness = 0 it needs no `rng` and is periodic (when sample_rate / f0_hz
    is a whole number of samples).

    Returns:
        float32 `[round(seconds * sample_rate)]`, peak-normalised to 0.5.
    """
    if vowel not in VOWELS:
        raise ValueError(f"unknown vowel {vowel!r}; known: {sorted(VOWELS)}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if breathiness > 0 and rng is None:
        raise ValueError("rng is required when breathiness is positive")
    n_fft, hop = frame_params(sample_rate)
    samples = int(round(seconds * sample_rate))
    frames = num_frames(samples, hop)
    tract = tract_response(
        np.tile(VOWELS[vowel], (frames, 1)),
        np.tile(BANDWIDTHS[:3], (frames, 1)),
        formant_scale,
        breathiness,
        n_fft,
        sample_rate,
    )
    voice = glottal_source(np.full(samples, float(f0_hz)), sample_rate, open_quotient, jitter, shimmer, rng)
    sources = [(voice.astype(np.float32), tract)]
    if breathiness > 0:
        bins = np.fft.rfftfreq(n_fft, 1 / sample_rate)
        shape = (bins**2 / (bins**2 + _ASPIRATION_HIGHPASS_HZ**2))[None].astype(np.float32)
        noise = (rng.standard_normal(samples) * _BREATH_PER_VOICING * breathiness).astype(np.float32)
        sources.append((noise, tract * shape * _ASPIRATION_GAIN))
    waveform = filter_frames(sources, n_fft, hop)
    return (0.5 * waveform / np.max(np.abs(waveform))).astype(np.float32)
