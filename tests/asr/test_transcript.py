"""Transcripts: the three formats read to the same words; malformed files refused naming the file and word."""

import json

import pytest

from keras_audio.asr.transcript import TranscriptError, Word, parse_json, read_transcript, write_transcript

WORDS = [
    Word(0.3, 0.71, "zero"),
    Word(0.9, 1.2345678901, "one"),
    Word(2.5, 3.0, "twenty, two"),
    Word(3.0, 3.5, "ünïcode"),
]


@pytest.mark.parametrize("fmt, suffix", [("phrases", ".json"), ("words", ".json"), ("csv", ".csv")])
def test_each_format_round_trips_the_exact_words(tmp_path, fmt, suffix):
    path = tmp_path / f"t{suffix}"
    write_transcript(WORDS, path, fmt, phrase_gap=1.0)
    assert read_transcript(path) == WORDS


def test_the_three_formats_parse_to_the_same_words(tmp_path):
    parsed = []
    for fmt, suffix in (("phrases", ".json"), ("words", ".json"), ("csv", ".csv")):
        write_transcript(WORDS, tmp_path / f"{fmt}{suffix}", fmt)
        parsed.append(read_transcript(tmp_path / f"{fmt}{suffix}"))
    assert parsed[0] == parsed[1] == parsed[2] == WORDS


def test_phrases_take_text_normalized_and_ignore_other_keys(tmp_path):
    data = [
        {
            "start": 0.0,
            "end": 2.0,
            "text": "Hello, World!",
            "confidence": 0.9,
            "terms": [
                {"start": 0.1, "end": 0.6, "text": "Hello,", "text_normalized": " hello ", "conf": 1},
                {"start": 0.8, "end": 1.5, "text": "World!", "text_normalized": "world"},
            ],
        },
        {"terms": []},
        {"terms": [{"start": 2, "end": 3, "text_normalized": "again"}]},
    ]
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(data))
    assert read_transcript(path) == [Word(0.1, 0.6, "hello"), Word(0.8, 1.5, "world"), Word(2.0, 3.0, "again")]


def test_csv_columns_in_any_order_with_extra_columns_and_a_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('\ufefftext,speaker,end,start\n"a, b",s1,1.5,1.0\nc,s1,2.5,2\n', encoding="utf-8")
    assert read_transcript(path) == [Word(1.0, 1.5, "a, b"), Word(2.0, 2.5, "c")]


def test_null_or_blank_text_reads_as_empty_for_check_words_to_refuse():
    assert parse_json([{"start": 0, "end": 1, "text": None}, {"start": 1, "end": 2, "text": "  "}]) == [
        Word(0.0, 1.0, ""),
        Word(1.0, 2.0, ""),
    ]


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"start": 1.0, "text": "seven"}, "word 2: 'end' is missing"),
        ({"start": "1.0", "end": 2.0, "text": "seven"}, "word 2 'seven': start '1.0' is not a finite number"),
        ({"start": 1.0, "end": True, "text": "seven"}, "word 2 'seven': end True is not a finite number"),
        ({"start": float("nan"), "end": 2.0, "text": "seven"}, "word 2 'seven': start nan is not a finite"),
        ({"start": 1.0, "end": 2.0, "text": 7}, "word 2: text must be a string, got 7"),
        ("seven", "word 2: expected an object with start, end and text, got str"),
    ],
)
def test_malformed_words_name_the_file_and_the_word(tmp_path, entry, expected):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"start": 0.0, "end": 0.5, "text": "six"}, entry]))
    with pytest.raises(TranscriptError, match="bad.json: " + expected.replace("(", r"\(")):
        read_transcript(path)


def test_a_malformed_term_names_its_phrase_and_term(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            [
                {"terms": [{"start": 0, "end": 1, "text_normalized": "a"}]},
                {"terms": [{"start": 1, "end": 2, "text": "b"}]},
            ]
        )
    )
    with pytest.raises(TranscriptError, match=r"phrase 2 term 1 \(word 2\): 'text_normalized' is missing"):
        read_transcript(path)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("t.json", "[{", "not valid JSON"),
        ("t.json", '{"words": []}', "must be a list"),
        ("t.json", '[{"terms": []}, {"start": 0, "end": 1, "text": "a"}]', "phrase 2: needs a list 'terms'"),
        ("t.csv", "begin,end,text\n0,1,a\n", "missing start"),
        ("t.csv", "start,end,text\n0,one,a\n", r"row 2 \(word 1\): end 'one' is not a number"),
        ("t.txt", "0 1 a", "unknown transcript format '.txt'"),
    ],
)
def test_malformed_files_are_refused_with_the_reason(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(TranscriptError, match=expected):
        read_transcript(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(TranscriptError, match=r"nowhere\.json: file not found"):
        read_transcript(tmp_path / "nowhere.json")


def test_write_transcript_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="'xml'"):
        write_transcript(WORDS, tmp_path / "t.xml", "xml")
