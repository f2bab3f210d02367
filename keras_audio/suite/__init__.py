"""The benchmark suite built on the library: configuration, plan checks, the train / evaluate / report stages,
tables, run folders, published test sets and the `keras-audio` command.

The library (`keras_audio.layers`, `keras_audio.corruptions`, `keras_audio.models`, `keras_audio.api`, ...)
never imports from here; this package imports the library.
"""
