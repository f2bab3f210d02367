"""The model zoo: functional builders found by name (`build_model("conv2d", ...)`)."""

from keras_audio.models.registry import available, build_model, get_family, register_model

__all__ = ["available", "build_model", "get_family", "register_model"]
