"""Shared fixtures of the pretrained-encoder tests."""

import pytest

from keras_audio.pretrained import ge2e, sources


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    """The pretrained GE2E encoder, converting the checkpoint into a fresh cache (built once per module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(sources.CACHE_DIR_VARIABLE, str(tmp_path_factory.mktemp("cache")))
        return ge2e.build_ge2e_encoder()
