"""The model zoo: functional builders found by name (`build_model("conv2d", ...)`), and the builders themselves.

Every builder returns an uncompiled `keras.Model` from float32 waveforms `[batch, samples]` to class
probabilities (see `registry` for the contract); `available()` lists the registered families.

The names are resolved on first use (module `__getattr__`): importing one layer module of this package
(`keras_audio.models.masking`) then loads neither the registry nor every family and its dependencies.
"""

from keras_audio.lazy_exports import lazy_exports

_EXPORTS = {
    # the registry
    "available": "keras_audio.models.registry",
    "build_model": "keras_audio.models.registry",
    "get_family": "keras_audio.models.registry",
    "register_model": "keras_audio.models.registry",
    "ModelFamily": "keras_audio.models.registry",
    "FeatureConfig": "keras_audio.models.registry",  # the builders' `features` argument
    # the from-scratch families
    "build_conv1d": "keras_audio.models.conv1d",
    "build_conv2d": "keras_audio.models.conv2d",
    "build_vgg": "keras_audio.models.vgg",
    "build_lstm": "keras_audio.models.recurrent",
    "build_crnn": "keras_audio.models.recurrent",
    "build_mlp_features": "keras_audio.models.handcrafted",
    "build_ae_clf": "keras_audio.models.autoencoder",
    "build_ae_clf_joint": "keras_audio.models.autoencoder",
    "build_sklearn_logreg": "keras_audio.models.sklearn_baseline",
    "build_sklearn_forest": "keras_audio.models.sklearn_baseline",
    # heads on an encoder: one exported by the suite, or a pretrained one
    "build_transfer": "keras_audio.models.transfer",
    "load_encoder": "keras_audio.models.transfer",
    "build_pretrained": "keras_audio.models.pretrained",
    "build_ge2e_encoder": "keras_audio.pretrained.ge2e",
    "build_aisfx_encoder": "keras_audio.pretrained.aisfx",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
