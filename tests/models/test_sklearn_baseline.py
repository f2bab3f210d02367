"""scikit-learn baselines: features, training through the hooks, probabilities, size, export round trip."""

import json

import numpy as np
import pytest

from keras_audio.export import ExportMismatchError
from keras_audio.models import build_model, get_family
from keras_audio.models.sklearn_baseline import export_sklearn, load_sklearn_export
from keras_audio.training import TrainingSettings

pytestmark = pytest.mark.slow  # fits, exports and reloads the scikit-learn baselines

NAMES = ["sklearn_logreg", "sklearn_forest"]
TINY = {"sklearn_logreg": {}, "sklearn_forest": {"n_estimators": 10}}


def _train(name, sample_rate, features, x, y, inputs_for, num_classes=2, **hparams):
    model = build_model(name, num_classes, sample_rate, features, **TINY[name], **hparams)
    family = get_family(name)
    result = family.trainer(model, inputs_for(x, y, num_classes), TrainingSettings(verbose=0))
    return model, family, result


@pytest.mark.parametrize("name", NAMES)
def test_trains_predicts_and_counts(name, sample_rate, features, make_tones, inputs_for):
    x, y = make_tones(16, 0.5)
    model, family, result = _train(name, sample_rate, features, x, y, inputs_for)
    assert model.features(x).shape == (16, 80)  # 20 MFCCs and deltas, mean and std
    p = model.predict_proba(x)
    assert p.shape == (16, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(p.argmax(1) == y) >= 0.9  # two well-separated tones
    assert result.history["val_accuracy"][0] >= 0.9 and result.metadata["training_clips"] == 16
    size = family.count_params(model)
    assert size == 81 if name == "sklearn_logreg" else size >= 10  # coefficients + intercept / tree nodes


@pytest.mark.parametrize("name", NAMES)
def test_probabilities_cover_classes_missing_from_training(name, sample_rate, features, make_tones, inputs_for):
    x, y = make_tones(8, 0.4)  # classes 0 and 1 of a 3-class task
    model, family, _ = _train(name, sample_rate, features, x, y, inputs_for, num_classes=3)
    p = model.predict_proba(x)
    assert p.shape == (8, 3) and np.all(p[:, 2] == 0)


def test_features_are_the_same_at_training_and_evaluation(sample_rate, features, make_tones):
    x, _ = make_tones(4, 0.5)
    model = build_model("sklearn_logreg", 2, sample_rate, features)
    np.testing.assert_array_equal(model.extract(x, training=True), model.extract(x, training=False))
    np.testing.assert_allclose(model.extract(x[:1]), model.extract(x)[:1], rtol=1e-5, atol=1e-6)  # batch-independent


def test_forest_is_reproducible_from_the_seed(sample_rate, features, make_tones, inputs_for):
    x, y = make_tones(16, 0.5)
    first, family, _ = _train("sklearn_forest", sample_rate, features, x, y, inputs_for)
    second, _, _ = _train("sklearn_forest", sample_rate, features, x, y, inputs_for)
    probe = make_tones(4, 0.5, seed=5)[0]
    np.testing.assert_array_equal(first.predict_proba(probe), second.predict_proba(probe))


@pytest.mark.parametrize("name", NAMES)
def test_export_round_trip(name, sample_rate, features, make_tones, inputs_for, tmp_path):
    x, y = make_tones(12, 0.5)
    model, family, _ = _train(name, sample_rate, features, x, y, inputs_for)
    probe = make_tones(5, 0.7, seed=9)[0]  # another length: the export takes any
    directory, difference = family.exporter(
        model,
        tmp_path / name,
        probe,
        class_names=["low", "high"],
        sample_rate=sample_rate,
        clip_samples=4000,
        extra_metadata={"model": name},
    )
    assert difference == 0.0
    assert {"feature_extractor", "feature_extractor.keras", "estimator.joblib", "metadata.json"} <= {
        p.name for p in directory.iterdir()
    }
    predict, metadata = load_sklearn_export(directory)
    np.testing.assert_array_equal(predict(probe), model.predict_proba(probe))
    assert metadata["class_names"] == ["low", "high"] and metadata["model"] == name and metadata["format"] == "sklearn"


def test_export_check_catches_a_different_estimator(
    sample_rate, features, make_tones, inputs_for, tmp_path, monkeypatch
):
    import keras_audio.models.sklearn_baseline as baseline

    x, y = make_tones(12, 0.5)
    model, _, _ = _train("sklearn_logreg", sample_rate, features, x, y, inputs_for)
    real_dump = baseline.joblib.dump

    def dump_a_changed_copy(estimator, path):
        import copy

        changed = copy.deepcopy(estimator)
        changed.steps[-1][1].intercept_ = changed.steps[-1][1].intercept_ + 5.0
        real_dump(changed, path)

    monkeypatch.setattr(baseline.joblib, "dump", dump_a_changed_copy)
    with pytest.raises(ExportMismatchError, match="differs"):
        export_sklearn(
            model, tmp_path / "bad", x[:4], class_names=["a", "b"], sample_rate=sample_rate, clip_samples=4000
        )


def test_loader_refuses_a_keras_export(tmp_path):
    (tmp_path / "metadata.json").write_text(json.dumps({"class_names": ["a", "b"]}))
    with pytest.raises(ValueError, match="not a scikit-learn export"):
        load_sklearn_export(tmp_path)


@pytest.mark.parametrize(
    "name, bad",
    [
        ("sklearn_logreg", dict(C=0.0)),
        ("sklearn_forest", dict(n_estimators=0)),
        ("sklearn_logreg", dict(n_mfcc=100)),
        ("sklearn_forest", dict(passes=0)),
    ],
)
def test_rejects_bad_hparams(name, bad, sample_rate, features):
    with pytest.raises(ValueError, match="sklearn"):
        build_model(name, 2, sample_rate, features, **bad)
