"""Augmentation names for ASR segments, and their seeds: the suite's corruptions, seeded per segment."""

import numpy as np
import pytest

from keras_audio.asr.augment import parse_augment, segment_seed, spoil, usable_names
from keras_audio.corruptions import registry
from keras_audio.corruptions.seeds import clip_seed, name_hash


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("noise,pitch_shift", ("white_noise", "pitch_shift")),
        (" Noise , PITCH ", ("white_noise", "pitch_shift")),
        ("noise,white_noise,noise", ("white_noise",)),
        (["pink_noise", "reverb"], ("pink_noise", "reverb")),
        ("", ()),
        ("none", ()),
        (None, ()),
        ((), ()),
    ],
)
def test_parse_augment_resolves_aliases_and_drops_duplicates(spec, expected):
    assert parse_augment(spec) == expected


def test_an_unknown_name_is_refused_listing_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown augmentation 'nosie'; choose from: noise \(= white_noise\), "
        r"pitch \(= pitch_shift\), white_noise, pink_noise",
    ):
        parse_augment("nosie,pitch_shift")


@pytest.mark.parametrize(
    "name, reason",
    [("speed", "changes the length"), ("time_stretch", "changes the length"), ("time_shift", "out of the segment")],
)
def test_corruptions_that_move_words_are_refused_with_the_reason(name, reason):
    with pytest.raises(ValueError, match=f"augmentation '{name}' cannot spoil ASR segments: .*{reason}"):
        parse_augment(name)
    assert name not in usable_names()


def test_every_usable_name_is_registered():
    assert set(usable_names()) < set(registry.names())
    assert {"white_noise", "pitch_shift", "reverb", "packet_loss"} <= set(usable_names())


def test_segment_seed_is_the_evaluation_seed_of_the_segment_id():
    seed = segment_seed(7, "talk_00003", "white_noise", 2)
    assert seed.tolist() == clip_seed(7, name_hash("talk_00003"), "white_noise", 2).numpy().tolist()
    others = [
        segment_seed(8, "talk_00003", "white_noise", 2),
        segment_seed(7, "talk_00004", "white_noise", 2),
        segment_seed(7, "talk_00003", "pink_noise", 2),
        segment_seed(7, "talk_00003", "white_noise", 3),
    ]
    assert len({tuple(s.tolist()) for s in others + [seed]}) == 5


def test_spoil_is_deterministic_and_keeps_the_length():
    x = (0.1 * np.sin(np.arange(8000) * 0.05)).astype(np.float32)
    for name in ("white_noise", "pitch_shift"):
        corruption = registry.build(name, 16000)
        a = spoil(x, corruption, segment_seed(0, "s", name, 2), 2)
        b = spoil(x, corruption, segment_seed(0, "s", name, 2), 2)
        c = spoil(x, corruption, segment_seed(1, "s", name, 2), 2)
        assert a.shape == x.shape and a.dtype == np.float32
        assert np.array_equal(a, b) and not np.array_equal(a, x)
        if name == "white_noise":
            assert not np.array_equal(a, c)  # another seed, another noise excerpt
