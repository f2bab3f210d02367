"""Decode cache: decoded once, hit on the second load, invalidated by any change, never half-written;
bad files stop the run with a full list, or are skipped and reported."""

import os
import time

import numpy as np
import pandas as pd
import pytest

from keras_audio import cache
from keras_audio.audio import read_audio
from keras_audio.cache import BadFilesError, load_waveforms
from keras_audio.manifest import Manifest
from tests.corpora import builders

RATE = 16000


def _manifest(paths, name="tiny"):
    frame = pd.DataFrame(
        {
            "clip_id": [f"clip{i}" for i in range(len(paths))],
            "path": [str(p) for p in paths],
            "label": ["a", "b"] * (len(paths) // 2) + ["a"] * (len(paths) % 2),
            "speaker": [f"s{i}" for i in range(len(paths))],
            "split": (["train", "test"] * len(paths))[: len(paths)],
        }
    )
    return Manifest(frame, name=name)


@pytest.fixture
def corpus(tmp_path):
    """Five clips at mixed rates and formats."""
    files = [
        builders.write(tmp_path / "audio" / "a.wav", builders.tone(0.3, 8000, 300.0, seed=1), 8000),
        builders.write(tmp_path / "audio" / "b.flac", builders.tone(0.4, 44100, 500.0, seed=2), 44100, format="FLAC"),
        builders.write(tmp_path / "audio" / "c.ogg", builders.tone(0.5, 16000, 700.0, seed=3), 16000, format="OGG"),
        builders.write_sphere(tmp_path / "audio" / "d.wav", builders.tone(0.25, 16000, 900.0, seed=4)),
        builders.write(tmp_path / "audio" / "e.wav", builders.tone(0.2, 48000, 1100.0, seed=5, channels=2), 48000),
    ]
    return _manifest(files)


def _forbid_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("decoded although the cache should have been hit")

    monkeypatch.setattr(cache, "read_audio", refuse)


def test_store_holds_each_clip_as_read_audio_decodes_it(corpus, tmp_path):
    result = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    assert not result.cache_hit
    assert result.store.clip_ids == corpus.clip_ids
    assert result.store.sample_rate == RATE
    for i, path in enumerate(corpus.paths()):
        np.testing.assert_array_equal(result.store.waveform(i), read_audio(path, RATE))
    assert result.store.lengths.tolist() == [4800, 6400, 8000, 4000, 3200]
    np.testing.assert_array_equal(result.store.offsets, np.concatenate([[0], np.cumsum(result.store.lengths)[:-1]]))
    np.testing.assert_array_equal(result.store.indices(["clip3", "clip0"]), [3, 0])


def test_second_load_is_a_hit_without_decoding(corpus, tmp_path, monkeypatch):
    first = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    _forbid_decoding(monkeypatch)
    second = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    assert second.cache_hit and second.cache_dir == first.cache_dir
    np.testing.assert_array_equal(second.store.samples, first.store.samples)


def test_a_changed_file_invalidates_the_cache(corpus, tmp_path):
    first = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    path = corpus.paths()[0]
    stat = path.stat()
    builders.write(path, builders.tone(0.3, 8000, 1234.0, seed=9), 8000)  # same size, other content
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    assert not second.cache_hit and second.cache_dir != first.cache_dir
    np.testing.assert_array_equal(second.store.waveform(0), read_audio(path, RATE))
    assert not np.array_equal(second.store.waveform(0), first.store.waveform(0))


@pytest.mark.parametrize("change", ["rate", "min_samples", "max_seconds", "fewer clips", "segment", "other files"])
def test_other_settings_or_clips_get_another_key(corpus, tmp_path, change):
    load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    manifest, kwargs = corpus, {}
    if change == "rate":
        kwargs["sample_rate"] = 8000
    elif change == "min_samples":
        kwargs["min_samples"] = 10
    elif change == "max_seconds":
        kwargs["max_seconds"] = 30.0
    elif change == "fewer clips":
        manifest = corpus.drop_clips(["clip4"])
    elif change == "segment":
        manifest = corpus.replace(corpus.frame.assign(offset=0.0, duration=0.1))
    elif change == "other files":  # same corpus name, same clip ids, other files
        copies = []
        for path in corpus.paths():
            copy = tmp_path / "copy" / path.name
            copy.parent.mkdir(exist_ok=True)
            copy.write_bytes(path.read_bytes())
            copies.append(copy)
        manifest = _manifest(copies)
    result = load_waveforms(manifest, kwargs.pop("sample_rate", RATE), tmp_path / "cache", progress=False, **kwargs)
    assert not result.cache_hit
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_segments_are_decoded_as_segments(corpus, tmp_path):
    manifest = corpus.replace(corpus.frame.assign(offset=[0.0, 0.1, 0.2, 0.0, 0.05], duration=0.1))
    result = load_waveforms(manifest, RATE, tmp_path / "cache", progress=False)
    assert result.store.lengths.tolist() == [1600] * 5
    full = read_audio(corpus.paths()[2], RATE)
    np.testing.assert_allclose(result.store.waveform(2), full[3200:4800], atol=1e-6)


def test_an_interrupted_decode_leaves_no_usable_half_cache(corpus, tmp_path, monkeypatch):
    calls = []

    def interrupted(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return read_audio(path, *args, **kwargs)

    monkeypatch.setattr(cache, "read_audio", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_waveforms(corpus, RATE, tmp_path / "cache", progress=False, workers=1)
    assert list((tmp_path / "cache").iterdir()) == []  # neither the final folder nor its temporary
    monkeypatch.setattr(cache, "read_audio", read_audio)
    result = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    assert not result.cache_hit and len(result.store) == len(corpus)


def test_a_killed_writers_leftovers_are_ignored_and_removed_when_stale(corpus, tmp_path):
    key = cache.cache_key(corpus, RATE, 1, cache.DEFAULT_MAX_SECONDS)
    folder_name = f"{corpus.name}-{RATE}-{key}"
    leftover = tmp_path / "cache" / f".{folder_name}-dead"
    leftover.mkdir(parents=True)
    (leftover / "samples.npy").write_bytes(b"\x93NUMPY half")
    old = time.time() - 2 * 3600
    os.utime(leftover / "samples.npy", (old, old))
    os.utime(leftover, (old, old))
    result = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    assert not result.cache_hit and result.cache_dir.name == folder_name
    assert not leftover.exists()
    assert len(result.store) == len(corpus)


@pytest.mark.parametrize("damage", ["delete samples", "truncate samples", "incomplete index"])
def test_a_damaged_cache_folder_is_decoded_again(corpus, tmp_path, damage):
    first = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    expected = np.array(first.store.samples)
    samples = first.cache_dir / "samples.npy"
    del first
    if damage == "delete samples":
        samples.unlink()
    elif damage == "truncate samples":
        samples.write_bytes(samples.read_bytes()[:1000])
    else:
        (samples.parent / "index.json").write_text('{"clip_ids": []}')
    with pytest.warns(RuntimeWarning, match="damaged"):
        second = load_waveforms(corpus, RATE, tmp_path / "cache", progress=False)
    assert not second.cache_hit
    np.testing.assert_array_equal(second.store.samples, expected)


# ------------------------------------------------------------------------------------------- bad files
@pytest.fixture
def mixed(tmp_path):
    """Every kind of bad file, plus the unusual-but-good ones."""
    bad = builders.bad_files(tmp_path / "bad")
    good = builders.good_odd_files(tmp_path / "good")
    paths = [p for p, _ in good.values()] + [p for p, _ in bad.values()]
    return _manifest(paths, name="mixed"), bad, good


def test_bad_files_stop_the_run_with_one_message_listing_all_of_them(mixed, tmp_path):
    manifest, bad, _ = mixed
    for _attempt in range(2):  # the first decodes, the second reads the recorded verdicts from the cache
        with pytest.raises(BadFilesError) as caught:
            load_waveforms(manifest, RATE, tmp_path / "cache", min_samples=400, max_seconds=1.0, progress=False)
        message = str(caught.value)
        assert f"{len(bad)} bad file(s)" in message
        assert "--skip-bad" in message
        for path, phrase in bad.values():
            line = next(line for line in message.splitlines() if line.strip().startswith(f"- {path}:"))
            assert phrase in line
        assert len(caught.value.bad_files) == len(bad)


def test_skip_bad_leaves_them_out_and_reports_each(mixed, tmp_path):
    manifest, bad, good = mixed
    result = load_waveforms(
        manifest, RATE, tmp_path / "cache", skip_bad=True, min_samples=400, max_seconds=1.0, progress=False
    )
    reported = {b.path: b.problem for b in result.bad_files}
    assert set(reported) == {str(p) for p, _ in bad.values()}
    for path, phrase in bad.values():
        assert phrase in reported[str(path)]
    assert len(result.store) == len(good) == len(result.manifest)
    assert result.manifest.clip_ids == result.store.clip_ids
    assert not set(b.clip_id for b in result.bad_files) & set(result.manifest.clip_ids)
    assert all(result.store.lengths == RATE // 2)  # every odd-but-good file: 0.5 s, mono, 16 kHz


def test_arguments_are_checked(corpus, tmp_path):
    with pytest.raises(ValueError, match="sample_rate"):
        load_waveforms(corpus, 0, tmp_path)
    with pytest.raises(ValueError, match="workers"):
        load_waveforms(corpus, RATE, tmp_path, workers=0)


# ------------------------------------------------------------------------------ overflow, temporaries
def test_samples_that_would_overflow_the_features_make_a_bad_file(corpus, tmp_path):
    huge = builders.write(tmp_path / "audio" / "huge.wav", builders.tone(0.3) * 1e30, RATE, subtype="FLOAT")
    manifest = _manifest(corpus.paths() + [huge])
    with pytest.raises(BadFilesError, match=r"huge\.wav: sample magnitude .* exceeds"):
        load_waveforms(manifest, RATE, tmp_path / "cache", progress=False)
    result = load_waveforms(manifest, RATE, tmp_path / "cache", skip_bad=True, progress=False)
    assert [b.path for b in result.bad_files] == [str(huge)] and len(result.store) == len(corpus)


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_dead_writers_are_removed_whatever_their_key(corpus, tmp_path):
    import subprocess
    import sys

    root = tmp_path / "cache"
    dead = root / f".other-16000-0123456789abcdef0123.partial-{_dead_pid()}-abc"
    live_writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = root / f".other-16000-0123456789abcdef0123.partial-{live_writer.pid}-def"
        for folder in (dead, live):
            folder.mkdir(parents=True)
            (folder / "samples.npy").write_bytes(b"\x93NUMPY half")
        result = load_waveforms(corpus, RATE, root, progress=False)
        assert result.removed_temporaries == [dead]
        assert not dead.exists() and live.exists()  # a live writer's folder is left alone
        hit = load_waveforms(corpus, RATE, root, progress=False)  # leftovers go on a cache hit too
        assert hit.cache_hit and hit.removed_temporaries == []
    finally:
        live_writer.kill()
        live_writer.wait()


def test_sigterm_during_a_decode_under_a_run_writer_leaves_no_temporary(corpus, tmp_path):
    import subprocess
    import sys
    import textwrap

    corpus.to_csv(tmp_path / "corpus.csv")
    package = os.path.dirname(cache.__file__)
    script = textwrap.dedent(f"""
        import os, signal, sys, types
        # The package without its __init__ (which registers Keras layers, importing TensorFlow): seconds saved.
        sys.modules["keras_audio"] = types.ModuleType("keras_audio")
        sys.modules["keras_audio"].__path__ = [{package!r}]
        from keras_audio import cache
        from keras_audio.manifest import Manifest
        from keras_audio.suite.run_writer import RunWriter

        read = cache.read_audio
        def killed(path, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            return read(path, *args, **kwargs)
        cache.read_audio = killed
        with RunWriter({str(tmp_path / "results")!r}, "run"):
            manifest = Manifest.from_csv({str(tmp_path / "corpus.csv")!r})
            cache.load_waveforms(manifest, {RATE}, {str(tmp_path / "cache")!r}, progress=False, workers=1)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=os.getcwd(),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 143, done.stderr[-2000:]
    assert list((tmp_path / "cache").iterdir()) == []  # neither the cache folder nor its temporary
    assert list((tmp_path / "results").iterdir()) == []  # nor the run's partial folder or its lock
