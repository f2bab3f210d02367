"""The registry: names, severity tables (monotone in harm, also when measured), resources, the README table."""

import numpy as np
import pytest

from keras_audio.corruptions import registry
from keras_audio.corruptions.base import NUM_SEVERITIES
from keras_audio.corruptions.seeds import clip_seed

# How each parameter must move from severity 1 to 5 to do more harm (+1: up, -1: down).
HARM_DIRECTION = {
    "snr_db": -1,
    "gain_db": +1,
    "fraction": None,
    "bits": -1,
    "change": +1,
    "semitones": +1,
    "cutoff_hz": -1,
    "low_hz": +1,
    "high_hz": -1,
    "rt60_s": +1,
    "wet": +1,
    "shift_ms": +1,
    "tilt_db_per_octave": +1,
    "band_db": +1,
    "bitrate_kbps": -1,
}
FRACTION_DIRECTION = {"clipping": -1, "packet_loss": +1}


def test_at_least_twelve_corruptions_with_five_documented_severities():
    names = registry.names()
    assert len(names) >= 12 and len(set(names)) == len(names)
    for name in names:
        cls = registry.corruption_class(name)
        assert cls.name == name and cls.description and cls.touches and cls.severities
        for parameter, values in cls.severities.items():
            assert len(values) == NUM_SEVERITIES, (name, parameter)


@pytest.mark.parametrize("name", registry.names())
def test_severity_parameters_are_monotone_in_harm(name):
    for parameter, values in registry.corruption_class(name).severities.items():
        assert parameter in HARM_DIRECTION, f"{name}.{parameter}: add its harm direction to this test"
        direction = HARM_DIRECTION[parameter] or FRACTION_DIRECTION[name]
        steps = np.diff(values) * direction
        assert np.all(steps > 0), (name, parameter, values)


def test_measured_harm_grows_with_severity(suite, graph_call, helpers):
    """With the same seed, the harm measured on the output grows from severity 1 to 5.

    The measure is the error energy ||y - x||² for length-keeping corruptions, except three. Synthetic
    reverb: the share of the output's energy that falls into the gaps between syllables (the waveform
    error of a reverberated clip depends as much on the tail's random phases as on its length). Time
    shift: the share of the clip lost to zero fill (a shifted periodic voice can line up with itself).
    Pitch shift is left out: once the partials no longer overlap the waveform error is the same for any
    shift; its F0 moving by the stated semitones is checked in its own test.
    """
    rng = np.random.default_rng(0)
    syllables = np.clip(np.sin(2 * np.pi * 4 * np.arange(8000) / 8000), 0, None)  # 4 bursts with gaps
    gaps = syllables == 0
    clean = ((helpers.harmonic_tone(140, 0.5) + 0.05 * rng.standard_normal(8000)) * syllables).astype(np.float32)
    for name, corruption in suite.items():
        if corruption.changes_length or name == "pitch_shift":
            continue
        call = graph_call(corruption)
        outputs = [call(clean, helpers.seed(3), s) for s in range(1, 6)]
        if name == "reverb":
            harm = [np.sum(y[gaps] ** 2) / np.sum(y**2) for y in outputs]
        elif name == "time_shift":
            harm = [np.mean(call(clean + 1.0, helpers.seed(3), s) == 0) for s in range(1, 6)]
        else:
            harm = [helpers.rms_db(y - clean) for y in outputs]
        assert all(a < b for a, b in zip(harm, harm[1:])), (name, harm)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown corruption 'fog'.*white_noise"):
        registry.build("fog", 16000)


def test_resources_are_passed_and_missing_ones_skipped_on_request(resources):
    assert registry.needs_resources("background_noise") == ("noise_dir",)
    assert registry.needs_resources("gain") == ()
    with pytest.raises(registry.MissingResource, match="noise_dir"):
        registry.build_suite(None, 16000)
    partial = registry.build_suite(None, 16000, registry.Resources(noise_dir=resources.noise_dir), skip_missing=True)
    assert set(registry.names()) - set(partial) == {"babble", "ir_reverb"}


def test_markdown_table_lists_every_corruption_and_severity():
    table = registry.markdown_table()
    header = table.splitlines()[0]
    assert header.count("severity") == NUM_SEVERITIES
    for name in registry.names():
        assert f"`{name}`" in table
    assert "gain_db=±3" in table and "snr_db=30" in table and "SpecAugment" in table


def test_clip_seed_depends_on_every_part():
    base = clip_seed(0, 123, "gain", 1).numpy()
    assert np.array_equal(base, clip_seed(0, 123, "gain", 1).numpy())
    for other in (
        clip_seed(1, 123, "gain", 1),
        clip_seed(0, 124, "gain", 1),
        clip_seed(0, 123, "speed", 1),
        clip_seed(0, 123, "gain", 2),
    ):
        assert not np.array_equal(base, other.numpy())


def test_every_registered_corruption_has_exactly_one_family():
    members = [name for names in registry.FAMILIES.values() for name in names]
    repeated = sorted({name for name in members if members.count(name) > 1})
    assert not repeated, f"corruptions in two families: {repeated}"
    no_family = [name for name in registry.names() if name not in members]
    assert not no_family, f"registered without a family: {no_family} (add each to one tuple of registry.FAMILIES)"
    unregistered = sorted(set(members) - set(registry.names()))
    assert not unregistered, f"FAMILIES lists corruptions that are not registered: {unregistered}"
    assert sorted(n for names in registry.families().values() for n in names) == sorted(registry.names())


def test_family_of_and_families():
    assert registry.family_of("white_noise") == "noise" and registry.family_of("telephone") == "band"
    assert registry.family_of("gain") == "level" and registry.family_of("ir_reverb") == "room"
    assert list(registry.families()) == list(registry.FAMILIES)
    assert registry.families()["pitch_tempo"] == ("speed", "time_stretch", "pitch_shift")
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        registry.family_of("fog")


def test_a_corruption_registered_without_a_family_is_named(monkeypatch):
    class Fog(registry.corruption_class("gain")):
        name = "fog"

    monkeypatch.setitem(registry._REGISTRY, "fog", Fog)
    with pytest.raises(ValueError, match="corruption 'fog' has no family: add it to one of noise, band"):
        registry.family_of("fog")
    assert "fog" not in [n for names in registry.families().values() for n in names]
