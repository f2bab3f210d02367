"""Every waveform corruption, as a class (`from keras_audio.corruptions import WhiteNoise`) and as a function
(`keras_audio.corruptions.functional.white_noise`), with the registry that names them.

A corruption draws its parameters from a `[2]` int seed and a severity 1..5, then applies them (see `base`)::

    from keras_audio.corruptions import WhiteNoise

    noise = WhiteNoise(sample_rate=16000)
    spoiled = noise(waveform, seed=[0, 7], severity=3)        # one clip, [samples] float32
    batch = noise.corrupt_batch(waveforms, seeds, severity=3)  # [batch, samples], seeds [batch, 2]

By name: `names()` lists them, `corruption_class(name)` gives the class, `build(name, sample_rate, resources)`
an instance (`Resources` holds the recordings the data-driven ones need), `families()` groups them.
SpecAugment is a Keras layer (`keras_audio.layers.SpecAugment`), not a waveform corruption.

The names are resolved on first use (module `__getattr__`): importing one corruption module does not load
them all.
"""

from keras_audio.lazy_exports import lazy_exports

_EXPORTS = {
    # the classes, one per registered corruption
    "WhiteNoise": "keras_audio.corruptions.noise",
    "PinkNoise": "keras_audio.corruptions.noise",
    "BrownNoise": "keras_audio.corruptions.noise",
    "BackgroundNoise": "keras_audio.corruptions.background",
    "Babble": "keras_audio.corruptions.babble",
    "Gain": "keras_audio.corruptions.gain",
    "Clipping": "keras_audio.corruptions.clipping",
    "BitDepth": "keras_audio.corruptions.quantization",
    "MuLaw": "keras_audio.corruptions.quantization",
    "SpeedChange": "keras_audio.corruptions.speed",
    "TimeStretch": "keras_audio.corruptions.time_stretch",
    "PitchShift": "keras_audio.corruptions.pitch_shift",
    "LowPass": "keras_audio.corruptions.filters",
    "Telephone": "keras_audio.corruptions.filters",
    "SyntheticReverb": "keras_audio.corruptions.reverb",
    "ImpulseResponseReverb": "keras_audio.corruptions.reverb",
    "PacketLoss": "keras_audio.corruptions.packet_loss",
    "TimeShift": "keras_audio.corruptions.time_shift",
    "RandomEQ": "keras_audio.corruptions.eq",
    "Mp3": "keras_audio.corruptions.codec",
    # the base class and the evaluation seeds
    "Corruption": "keras_audio.corruptions.base",
    "MissingResource": "keras_audio.corruptions.base",
    "NUM_SEVERITIES": "keras_audio.corruptions.base",
    "clip_seed": "keras_audio.corruptions.seeds",
    # the registry
    "Resources": "keras_audio.corruptions.registry",
    "names": "keras_audio.corruptions.registry",
    "corruption_class": "keras_audio.corruptions.registry",
    "build": "keras_audio.corruptions.registry",
    "build_suite": "keras_audio.corruptions.registry",
    "register": "keras_audio.corruptions.registry",
    "needs_resources": "keras_audio.corruptions.registry",
    "FAMILIES": "keras_audio.corruptions.registry",
    "families": "keras_audio.corruptions.registry",
    "family_of": "keras_audio.corruptions.registry",
    "severity_table": "keras_audio.corruptions.registry",
    "markdown_table": "keras_audio.corruptions.registry",
    # training policies
    "TrainingPolicy": "keras_audio.corruptions.policy",
    "parse_policy": "keras_audio.corruptions.policy",
    "expand_policies": "keras_audio.corruptions.policy",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
