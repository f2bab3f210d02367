"""`python -m keras_audio ...` is `keras-audio ...`."""

import sys

from keras_audio.suite.cli import main

sys.exit(main())
