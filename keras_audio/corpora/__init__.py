"""Corpus recipes: each turns one on-disk layout into a validated `Manifest`.

Use `load_corpus(name, data_dir, task, seed)`; `available()` lists the names.
"""

from keras_audio.corpora.registry import available, default_data_dir, load_corpus

__all__ = ["available", "default_data_dir", "load_corpus"]
