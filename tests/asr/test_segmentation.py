"""Segmentation by span: never above the limit, cut at the longest pause near it; bad words refused or skipped."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_audio.asr.segmentation import WordError, check_words, segment_runs, segment_words
from keras_audio.asr.transcript import Word


def _words(durations_and_pauses, start=0.0, text="w"):
    """Words from `[(duration, pause after), ...]`."""
    words, t = [], start
    for i, (duration, pause) in enumerate(durations_and_pauses):
        words.append(Word(t, t + duration, f"{text}{i}"))
        t += duration + pause
    return words


def test_cuts_at_the_longest_pause_in_the_last_third_of_the_window():
    # Pauses after a..f: 1.0, 1.5, 0.5, 0.75, 0.25, 0.25. With a 10-s limit the cut points whose span is at
    # least 6.67 s follow d (7.0 s), e (8.5 s) and f (9.5 s); d's pause is the longest of those. The 1.5-s
    # pause after b comes too early (3 s), and g would end the segment at 10.5 s.
    words = [
        Word(0, 1, "a"),
        Word(2, 3, "b"),
        Word(4.5, 5.5, "c"),
        Word(6, 7, "d"),
        Word(7.75, 8.5, "e"),
        Word(8.75, 9.5, "f"),
        Word(9.75, 10.5, "g"),
    ]
    segments = segment_words(words, 10.0)
    assert [s.text for s in segments] == ["a b c d", "e f g"]
    assert (segments[0].start, segments[0].end, segments[1].start, segments[1].end) == (0, 7, 7.75, 10.5)


def test_equal_pauses_cut_at_the_later_one():
    words = _words([(1.0, 0.25)] * 12)  # spans 1, 2.25, 3.5, ...: every pause equal
    segments = segment_words(words, 10.0)
    assert [len(s.words) for s in segments] == [8, 4]  # 8 words span 9.75 s, 9 would span 11


def test_an_early_long_pause_is_not_taken():
    words = _words([(1, 3.0)] + [(1, 0.2)] * 8)  # a 3-s pause after the first word: span 1 s only
    segments = segment_words(words, 10.0)
    assert len(segments[0].words) > 1


def test_when_nothing_reaches_the_window_cuts_at_the_last_word_that_fits():
    words = _words([(1, 0.1), (1, 20.0), (1, 0.1)])  # the third word starts 22 s in
    assert [s.text for s in segment_words(words, 10.0)] == ["w0 w1", "w2"]


def test_min_fraction_one_is_greedy_and_zero_takes_the_longest_pause_anywhere():
    words = _words([(1, 2.0)] + [(1, 0.2)] * 20)
    greedy = segment_words(words, 10.0, min_fraction=1.0)
    for segment, following in zip(greedy, greedy[1:]):
        assert following.words[0].end - segment.start > 10.0  # one more word would not have fitted
    anywhere = segment_words(words, 10.0, min_fraction=0.0)
    assert len(anywhere[0].words) == 1  # the 2-s pause after the first word


def test_segments_are_numbered_across_runs():
    runs = [_words([(1, 0.5)] * 30), _words([(1, 0.5)] * 5, start=100)]
    segments = segment_runs(runs, 10.0)
    assert [s.index for s in segments] == list(range(len(segments)))
    assert segments[-1].words == tuple(runs[1])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.05, 3.5), st.floats(0.0, 6.0)), min_size=1, max_size=60),
    st.floats(4.0, 30.0),
    st.floats(0.0, 1.0),
)
def test_spans_never_exceed_the_limit_and_every_word_lands_once_in_order(items, limit, fraction):
    words = _words(items)
    segments = segment_words(words, limit, min_fraction=fraction)
    assert all(s.span <= limit for s in segments)
    assert [w for s in segments for w in s.words] == words
    assert all(s.words for s in segments)


def test_a_recording_of_synthesized_words_segments_within_the_limit():
    from tests.asr.recordings import recording

    _, words = recording(words=12, pause_seconds=(0.05, 2.0))
    segments = segment_words(check_words(words, 4.0, 60.0).runs[0], 4.0)
    assert len(segments) > 2 and max(s.span for s in segments) <= 4.0
    assert " ".join(s.text for s in segments) == " ".join(w.text for w in words)


GOOD = [Word(0.5, 1.0, "one"), Word(1.2, 1.8, "two"), Word(2.0, 2.6, "three"), Word(3.0, 3.4, "four")]


@pytest.mark.parametrize(
    "index, bad, reason",
    [
        (1, Word(1.2, 1.8, ""), "empty text"),
        (1, Word(1.2, 1.2, "two"), "ends at or before its start"),
        (1, Word(1.8, 1.2, "two"), "ends at or before its start"),
        (0, Word(-0.1, 1.0, "one"), "starts before 0 s"),
        (3, Word(3.0, 6.1, "four"), r"runs past the end of the audio \(6.000 s\)"),
        (3, Word(6.0, 6.005, "four"), r"runs past the end of the audio"),
        (1, Word(1.2, 1.8 + 4.0, "two"), "lasts 4.600 s, longer than the segment limit of 4 s"),
        (2, Word(0.2, 0.4, "three"), r"starts before the previous word 'two' at 1.200-1.800 s \(timings out of order"),
        (2, Word(1.7, 2.6, "three"), "overlaps the previous word 'two' at 1.200-1.800 s"),
    ],
)
def test_each_bad_word_is_refused_naming_the_word_and_its_time(index, bad, reason):
    words = list(GOOD)
    words[index] = bad
    with pytest.raises(WordError) as caught:
        check_words(words, 4.0, audio_seconds=6.0)
    message = str(caught.value)
    assert f"word {index + 1} {bad.text!r} at {bad.start:.3f}-{bad.end:.3f} s: " in message
    assert caught.match(reason)
    assert caught.value.problems[0].index == index


def test_an_end_inside_the_ten_millisecond_slack_is_accepted():
    assert check_words([Word(4.5, 5.009, "end")], 4.0, audio_seconds=5.0).kept == 1


def test_the_message_counts_further_bad_words_and_names_the_first():
    words = [Word(0, 1, "a"), Word(0.5, 1.5, "b"), Word(2, 3, ""), Word(4, 5, "c")]
    with pytest.raises(WordError, match=r"^word 2 'b' at 0.500-1.500 s: overlaps .*\(and 1 more bad word\)"):
        check_words(words, 30.0)


def test_skipping_reports_bad_words_and_never_spans_one():
    words = _words([(0.5, 0.2)] * 10)
    words[3] = Word(words[3].start, words[3].end, "")  # empty text
    words[6] = Word(words[5].start + 0.1, words[6].end, words[6].text)  # overlaps word 6
    checked = check_words(words, 30.0, skip_bad_words=True)
    assert [p.index for p in checked.dropped] == [3, 5, 6]  # word 6 shares audio with word 5: both go
    assert [p.reason for p in checked.dropped][0] == "empty text"
    assert checked.dropped[1].reason == f"overlaps the skipped word {words[6].describe()}"
    assert [len(run) for run in checked.runs] == [3, 1, 3]
    segments = segment_runs(checked.runs, 30.0)  # every word fits in 30 s, yet three segments
    assert [s.text for s in segments] == ["w0 w1 w2", "w4", "w7 w8 w9"]
    for segment in segments:
        for problem in checked.dropped:
            assert problem.word.end <= segment.start or problem.word.start >= segment.end


def test_one_misplaced_word_is_one_problem():
    words = [Word(0, 1, "a"), Word(50, 51, "glitch"), Word(2, 3, "b"), Word(4, 5, "c")]
    checked = check_words(words, 30.0, skip_bad_words=True)
    assert [p.word.text for p in checked.dropped] == ["b", "c"]  # compared with the last word *kept*
    words = [Word(0, 1, "a"), Word(0.2, 0.3, "glitch"), Word(2, 3, "b"), Word(4, 5, "c")]
    checked = check_words(words, 30.0, skip_bad_words=True)
    assert [p.word.text for p in checked.dropped] == ["a", "glitch"]  # "a" holds the glitch's audio
    assert checked.dropped[0].reason == "overlaps the skipped word 'glitch' at 0.200-0.300 s"


def test_a_dropped_word_timed_inside_a_pause_splits_the_run_there():
    words = [Word(0, 1, "a"), Word(2, 3, "b"), Word(4, 5, "c"), Word(1.2, 1.5, "late")]
    checked = check_words(words, 60.0, skip_bad_words=True)
    assert [p.word.text for p in checked.dropped] == ["late"]
    assert [[w.text for w in run] for run in checked.runs] == [["a"], ["b", "c"]]
    # A dropped word without audio (no duration, or wholly past the end) is a barrier in order only.
    words = [Word(0, 1, "a"), Word(2, 2, "none"), Word(3, 4, "b"), Word(5, 6, "c"), Word(9, 9.5, "after")]
    checked = check_words(words, 60.0, audio_seconds=8.0, skip_bad_words=True)
    assert [[w.text for w in run] for run in checked.runs] == [["a"], ["b", "c"]]


def test_segment_words_refuses_unchecked_words_and_bad_settings():
    with pytest.raises(WordError, match="overlaps"):
        segment_words([Word(0, 2, "a"), Word(1, 3, "b")], 10.0)
    with pytest.raises(ValueError, match="max_seconds"):
        segment_words(GOOD, 0.0)
    with pytest.raises(ValueError, match="max_seconds"):
        check_words(GOOD, float("inf"))
    with pytest.raises(ValueError, match="min_fraction"):
        segment_words(GOOD, 10.0, min_fraction=1.5)
    with pytest.raises(ValueError, match="audio_seconds"):
        check_words(GOOD, 10.0, audio_seconds=-1.0)
    assert segment_words([], 10.0) == []


def test_segments_report_span_and_text():
    segment = segment_words(GOOD, 30.0)[0]
    assert (segment.start, segment.end, segment.text) == (0.5, 3.4, "one two three four")
    assert segment.span == pytest.approx(2.9)
    assert np.isclose(sum(w.duration for w in segment.words), 2.1)  # the words' sum ignores the pauses
