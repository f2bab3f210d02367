"""Classic baselines: logistic regression and a random forest on MFCC statistics (scikit-learn).

Every table gets a row that shows what the deep models add. The features are computed by a small Keras
model (waveform -> the shared log-mel front-end -> 20 MFCCs and their deltas -> mean and standard
deviation over the frames of signal, 80 numbers), the same one at training, evaluation and in the export,
so the estimator always sees identical features. The MFCCs come from the same normalised log-mel every deep
model reads, which makes them, like the deep models, insensitive to the recording level, and the statistics
skip the zero padding of short clips (the front-end's padding mask). With ``frontend="pcen"`` the
coefficients are the DCT of the PCEN spectrogram instead (cepstra of PCEN, not MFCCs).

These are not Keras models, so the family registers its own trainer, exporter, loader and size:

- training: one pass over the training stream (as many as the `passes` hparam says: under a corrupting
  policy, each pass draws new corruptions), fitted with the run's class weights as sample weights;
- the table's "params": fitted coefficients for logistic regression, tree nodes for the forest;
- export (`load_sklearn_export` reads it back)::

      feature_extractor/         SavedModel: waveform float32 [batch, samples] -> features [batch, 80]
      feature_extractor.keras    the same as a Keras model
      estimator.joblib           the fitted scikit-learn estimator (joblib; load only files you trust)
      metadata.json              class names, sample rate, clip length, "format": "sklearn"
      MODEL_CARD.md              what the model is and was trained on (`model_card`)
"""

from __future__ import annotations

import time
from pathlib import Path

import joblib
import keras
import numpy as np
import tensorflow as tf
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from keras_audio.config import FeatureConfig
from keras_audio.export import (
    METADATA_FILE,
    ExportMismatchError,
    read_metadata_file,
    write_metadata_file,
)
from keras_audio.models.frontend import (
    check_frontend,
    spectral_frontend,
    waveform_input,
)
from keras_audio.models.masking import MaskedMfccStatistics
from keras_audio.models.registry import register_model
from keras_audio.training import TrainingInputs, TrainingResult, TrainingSettings

FEATURES_ENDPOINT_OUTPUT = "features"


def mfcc_feature_model(
    sample_rate: int, features: FeatureConfig, n_mfcc: int = 20, spec_augment: bool = False, frontend: str = "log_mel"
) -> keras.Model:
    """Waveform -> shared front-end -> MFCC statistics over the signal frames `[batch, 4 * n_mfcc]`."""
    waveform = waveform_input()
    log_mel, mask = spectral_frontend(waveform, sample_rate, features, spec_augment, frontend)
    statistics = MaskedMfccStatistics(n_mfcc, name="mfcc_statistics")([log_mel, mask])
    return keras.Model(waveform, statistics, name="mfcc_features")


class SklearnClassifier:
    """A scikit-learn estimator on features computed by a Keras model from waveforms.

    Args:
        name: the registry name (for messages).
        features: waveform `[batch, samples]` -> features `[batch, dims]`.
        estimator: an unfitted scikit-learn classifier with `predict_proba`.
        num_classes: the task's classes (columns of the probabilities, even if a class is absent in training).
        passes: passes over the training stream to collect features from.
    """

    def __init__(self, name: str, features: keras.Model, estimator, num_classes: int, passes: int = 1):
        if passes < 1:
            raise ValueError(f"{name}: passes must be >= 1, got {passes}")
        self.name = name
        self.features = features
        self.estimator = estimator
        self.num_classes = num_classes
        self.passes = passes
        self._extract = {}

    def extract(self, waveforms, training: bool = False) -> np.ndarray:
        """Features of `[batch, samples]` waveforms (`training=True` turns SpecAugment masks on, if any)."""
        if training not in self._extract:
            self._extract[training] = tf.function(
                lambda w: self.features(w, training=training),
                input_signature=[tf.TensorSpec([None, None], tf.float32)],
                reduce_retracing=True,
            )
        return self._extract[training](tf.convert_to_tensor(waveforms, tf.float32)).numpy()

    def fit(
        self, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None, seed: int = 0
    ) -> SklearnClassifier:
        seeded = {key: seed for key in self.estimator.get_params() if key.endswith("random_state")}
        self.estimator.set_params(**seeded)
        fit_params = {}
        if sample_weight is not None:  # a pipeline routes the weights to its last step
            last = self.estimator.steps[-1][0] + "__" if hasattr(self.estimator, "steps") else ""
            fit_params[f"{last}sample_weight"] = sample_weight
        self.estimator.fit(features, labels, **fit_params)
        return self

    def probabilities_of_features(self, features: np.ndarray) -> np.ndarray:
        """`[batch, num_classes]`; classes the estimator never saw get probability 0."""
        known = self.estimator.predict_proba(features)
        full = np.zeros((len(features), self.num_classes), np.float32)
        full[:, self.estimator.classes_.astype(int)] = known
        return full

    def predict_proba(self, waveforms) -> np.ndarray:
        return self.probabilities_of_features(self.extract(waveforms))

    def count_params(self) -> int | None:
        """Fitted coefficients (linear models) or tree nodes (forests); None before fitting."""
        estimator = self.estimator.steps[-1][1] if hasattr(self.estimator, "steps") else self.estimator
        if hasattr(estimator, "coef_"):
            return int(estimator.coef_.size + np.size(getattr(estimator, "intercept_", 0)))
        if hasattr(estimator, "estimators_"):
            return int(sum(tree.tree_.node_count for tree in estimator.estimators_))
        return None


def _collect(
    model: SklearnClassifier, dataset: tf.data.Dataset, batches: int | None, training: bool
) -> tuple[np.ndarray, np.ndarray]:
    features, labels = [], []
    for waveforms, label in dataset.take(batches) if batches is not None else dataset:
        features.append(model.extract(waveforms, training=training))
        labels.append(label.numpy())
    return np.concatenate(features), np.concatenate(labels)


def train_sklearn(
    model: SklearnClassifier, inputs: TrainingInputs, settings: TrainingSettings, log_dir: Path | None = None
) -> TrainingResult:
    """Collect features from `passes` epochs of the training stream, fit, score on the validation split.

    `settings.epochs`, the learning rate and early stopping do not apply; no TensorBoard log is written.
    """
    del settings, log_dir
    started = time.perf_counter()
    x, y = _collect(model, inputs.make_train(False), inputs.steps_per_epoch * model.passes, training=True)
    weights = None
    if inputs.class_weight is not None:
        weights = np.array([inputs.class_weight.get(int(c), 1.0) for c in y], np.float64)
    model.fit(x, y, weights, seed=inputs.seed)
    seconds = time.perf_counter() - started
    history = {"accuracy": [float(accuracy_score(y, model.estimator.predict(x)))]}
    val_x, val_y = _collect(model, inputs.validation, None, training=False)
    if len(val_y):
        probabilities = model.probabilities_of_features(val_x)
        history["val_accuracy"] = [float(accuracy_score(val_y, probabilities.argmax(-1)))]
        history["val_loss"] = [
            float(log_loss(val_y, np.clip(probabilities, 1e-7, 1.0), labels=list(range(model.num_classes))))
        ]
    return TrainingResult(
        history=history,
        seconds=seconds,
        epochs_run=model.passes,
        best_epoch=model.passes,
        metadata={"training_clips": int(len(y))},
    )


def sklearn_params(model: SklearnClassifier) -> int | None:
    return model.count_params()


def export_sklearn(
    model: SklearnClassifier,
    directory: str | Path,
    probe: np.ndarray,
    *,
    class_names,
    sample_rate: int,
    clip_samples: int,
    extra_metadata: dict | None = None,
    atol: float = 1e-5,
) -> tuple[Path, float]:
    """Write the feature extractor (SavedModel and .keras), the estimator (joblib), metadata.json and the model
    card; reload them and compare their predictions on `probe` with the in-memory model's.

    Returns:
        `(directory, largest absolute difference of the probabilities)`.

    Raises:
        ExportMismatchError: the reloaded export predicts differently (beyond `atol`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(model.features)
    archive.add_endpoint(
        name="serve",
        fn=lambda waveform: {FEATURES_ENDPOINT_OUTPUT: model.features(waveform, training=False)},
        input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")],
    )
    archive.write_out(str(directory / "feature_extractor"), verbose=False)
    model.features.save(directory / "feature_extractor.keras")
    joblib.dump(model.estimator, directory / "estimator.joblib")
    metadata = {
        "format": "sklearn",
        "load": "keras_audio.models.sklearn_baseline.load_sklearn_export(folder) -> predict(waveforms)",
        "class_names": list(class_names),
        "num_classes": model.num_classes,
        "sample_rate": int(sample_rate),
        "clip_samples": int(clip_samples),
        "clip_seconds": clip_samples / sample_rate,
        "input": f"waveform: float32 [batch, samples], mono, {sample_rate} Hz, in [-1, 1]",
        "output": f"probabilities: float32 [batch, {len(class_names)}], in the order of class_names",
        **(extra_metadata or {}),
    }
    write_metadata_file(directory, metadata)
    predict, _ = load_sklearn_export(directory)
    difference = float(np.max(np.abs(predict(probe) - model.predict_proba(probe))))
    if not difference <= atol:
        raise ExportMismatchError(
            f"{directory}: the reloaded estimator differs from the trained one by {difference:.3g} (> {atol:g})"
        )
    return directory, difference


def load_sklearn_export(directory: str | Path):
    """Reload an export of `export_sklearn`: returns `(predict, metadata)`, `predict(waveforms) -> probabilities`."""
    directory = Path(directory)
    metadata = read_metadata_file(directory) or {}
    if metadata.get("format") != "sklearn":
        raise ValueError(
            f"{directory}: not a scikit-learn export ({METADATA_FILE} format is {metadata.get('format')!r})"
        )
    loaded = tf.saved_model.load(str(directory / "feature_extractor"))
    serve = loaded.signatures["serving_default"]
    estimator = joblib.load(directory / "estimator.joblib")
    num_classes = int(metadata["num_classes"])

    def predict(waveforms) -> np.ndarray:
        features = serve(waveform=tf.convert_to_tensor(waveforms, tf.float32))[FEATURES_ENDPOINT_OUTPUT].numpy()
        full = np.zeros((len(features), num_classes), np.float32)
        full[:, estimator.classes_.astype(int)] = estimator.predict_proba(features)
        return full

    predict.loaded = loaded
    return predict, metadata


def _build(
    name: str,
    estimator,
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool,
    n_mfcc: int,
    passes: int,
    frontend: str = "log_mel",
) -> SklearnClassifier:
    check_frontend(name, frontend)
    if n_mfcc > features.n_mels:
        raise ValueError(f"{name}: n_mfcc={n_mfcc} exceeds n_mels={features.n_mels}")
    return SklearnClassifier(
        name, mfcc_feature_model(sample_rate, features, n_mfcc, spec_augment, frontend), estimator, num_classes, passes
    )


_HOOKS = dict(trainer=train_sklearn, exporter=export_sklearn, count_params=sklearn_params, loader=load_sklearn_export)


@register_model("sklearn_logreg", "logistic regression (standardised) on MFCC + delta statistics", **_HOOKS)
def build_sklearn_logreg(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    n_mfcc: int = 20,
    C: float = 1.0,
    passes: int = 1,
    frontend: str = "log_mel",
) -> SklearnClassifier:
    """`StandardScaler` -> `LogisticRegression(C)` on 4 × `n_mfcc` MFCC statistics.

    Args:
        n_mfcc: MFCCs kept (each gives a mean and std, and so does its delta).
        C: inverse L2 regularisation strength.
        passes: passes over the (possibly corrupted) training stream.
        frontend: ``log_mel`` (default: MFCCs), ``pcen`` or ``pcen_fixed`` (cepstra of PCEN).
    """
    if C <= 0:
        raise ValueError(f"sklearn_logreg: C must be positive, got {C}")
    estimator = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    return _build(
        "sklearn_logreg", estimator, num_classes, sample_rate, features, spec_augment, n_mfcc, passes, frontend
    )


@register_model("sklearn_forest", "random forest on MFCC + delta statistics", **_HOOKS)
def build_sklearn_forest(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    n_mfcc: int = 20,
    n_estimators: int = 200,
    min_samples_leaf: int = 2,
    passes: int = 1,
    frontend: str = "log_mel",
) -> SklearnClassifier:
    """`RandomForestClassifier` on 4 × `n_mfcc` MFCC statistics, seeded by the run's seed.

    Args:
        n_mfcc: MFCCs kept.
        n_estimators: trees.
        min_samples_leaf: the smallest leaf (larger: smaller trees, smoother probabilities).
        passes: passes over the (possibly corrupted) training stream.
        frontend: ``log_mel`` (default: MFCCs), ``pcen`` or ``pcen_fixed`` (cepstra of PCEN).
    """
    if n_estimators < 1 or min_samples_leaf < 1:
        raise ValueError(
            f"sklearn_forest: n_estimators and min_samples_leaf must be positive, "
            f"got {n_estimators}, {min_samples_leaf}"
        )
    estimator = RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, n_jobs=1)
    return _build(
        "sklearn_forest", estimator, num_classes, sample_rate, features, spec_augment, n_mfcc, passes, frontend
    )
