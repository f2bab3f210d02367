"""keras_audio: how much accuracy survives when audio is spoiled, and what gets it back.

The data flows one way: corpus -> manifest -> waveform dataset -> corruption -> features -> model ->
metrics -> report. Each step is a module; see the README's "Design" section.
"""

import os

# Keras 3 picks its backend at import time; this suite is built on TensorFlow (tf.data, tf.signal).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
