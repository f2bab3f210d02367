"""The main job as three stages that hand each other files, each usable alone.

    train:    corpus ──► exported models (models/<tag>/) + training.json + history.json
    evaluate: exported models × test sets ──► predictions.csv.gz + evaluation.json (+ gallery.npz)
    report:   those files ──► table.csv, metrics.json, table.md, plots/, record.json

`run_stages` (what `benchmarks/run.py` and `keras-audio run` call) runs all three into one run folder; the
library modules they call (corpora, cache, pipeline, corruptions, models, training, grid) and the suite's
results and tables know nothing of stages.
"""
