"""Speech-recognition data from long recordings with word timings: segments of at most 30 s, a manifest,
spoiled copies and log-mel features (`prepare_asr`; the command line's ``keras-audio prepare-asr``).

One job per module: `transcript` (three file formats -> `Word` list), `segmentation` (checks and the cut
rule, pure), `frames` (the 25-ms / 10-ms log-mel settings and frame counts), `augment` (which corruptions,
their seeds), `plot` (the segments picture), `prepare` (reading, writing, the atomic output folder).
"""

from keras_audio.asr.augment import parse_augment, usable_names
from keras_audio.asr.frames import FrameSettings, centred_frames, frame_settings, uncentred_frames
from keras_audio.asr.prepare import AsrSummary, prepare_asr
from keras_audio.asr.segmentation import Segment, WordError, WordProblem, check_words, segment_words
from keras_audio.asr.transcript import TranscriptError, Word, read_transcript

__all__ = [
    "AsrSummary",
    "FrameSettings",
    "Segment",
    "TranscriptError",
    "Word",
    "WordError",
    "WordProblem",
    "centred_frames",
    "check_words",
    "frame_settings",
    "parse_augment",
    "prepare_asr",
    "read_transcript",
    "segment_words",
    "uncentred_frames",
    "usable_names",
]
