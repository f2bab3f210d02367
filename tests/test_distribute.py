"""tf.distribute training and the evaluation grid split across workers.

The local cluster test starts this file as two worker processes on the loopback interface (free ports
chosen at run time, a TF_CONFIG each), which train a tiny model for a few steps with `multi-worker` from
a streamed source and evaluate their halves of the grid; it then trains the same model in this process with
the default strategy and compares. Tolerances: the two workers hold bitwise-identical weights and merged
tables; against one process, weights and probabilities agree within 1e-5 (floating-point reduction order)
and the predicted labels are identical; the merged table is bitwise the table one process computes with the
same weights.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keras_audio.cache import WaveformStore
from keras_audio.corruptions import registry
from keras_audio.distribute import Distribution, Worker, start, worker_from_tf_config
from keras_audio.grid import evaluate_grid, grid, keras_predictor
from keras_audio.manifest import Manifest
from keras_audio.pipeline import ClipSource, evaluation_dataset, training_dataset
from keras_audio.streaming import StreamedClipSource
from keras_audio.suite.grid_parts import GridSplit, fingerprint, grid_split
from keras_audio.training import TrainingInputs, TrainingSettings, balanced_class_weights, run_fit, set_global_seed

pytestmark = pytest.mark.slow  # training under tf.distribute strategies, worker processes

SR = 8000
CLIP = 2000
GLOBAL_BATCH = 8
STEPS = 3
EPOCHS = 2
CLUSTER_TIMEOUT = 240  # seconds before the workers are killed and the test fails


def _write_corpus(folder: Path, n=40) -> None:
    """Clips whose class is audible (a tone or noise), as a decode cache's files plus a manifest CSV."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1500, 3000, size=n)
    t = np.arange(3000) / SR
    clips = [
        (0.3 * np.sin(2 * np.pi * 440 * t[:length]) if i % 2 else 0.3 * rng.standard_normal(length)).astype(np.float32)
        for i, length in enumerate(lengths)
    ]
    np.save(folder / "samples.npy", np.concatenate(clips))
    np.save(folder / "lengths.npy", lengths)
    clip_ids = [f"c{i:03d}" for i in range(n)]
    pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": ["tone" if i % 2 else "noise" for i in range(n)],
            "speaker": [f"s{i // 4}" for i in range(n)],
            "split": ["train" if i < 24 else "validation" if i < 30 else "test" for i in range(n)],
        }
    ).to_csv(folder / "manifest.csv", index=False)


def _read_corpus(folder: Path) -> tuple[WaveformStore, Manifest]:
    lengths = np.load(folder / "lengths.npy")
    frame = pd.read_csv(folder / "manifest.csv")
    store = WaveformStore(
        np.load(folder / "samples.npy", mmap_mode="r"),
        np.concatenate([[0], np.cumsum(lengths)[:-1]]),
        lengths,
        frame["clip_id"].tolist(),
        SR,
    )
    return store, Manifest(frame, name="tiny")


def _tiny_model(num_classes: int):
    import keras

    inputs = keras.Input((CLIP,))
    x = keras.layers.Reshape((CLIP, 1))(inputs)
    x = keras.layers.Conv1D(4, 16, strides=8, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def _train(folder: Path, distribution: Distribution, backup_dir: Path | None = None):
    """The tiny model trained on the corpus in `folder` under `distribution`, from the streamed source."""
    from keras_audio.training import compile_classifier

    set_global_seed(0)
    store, manifest = _read_corpus(folder)
    train, validation = (StreamedClipSource(store, manifest.subset(s)) for s in ("train", "validation"))
    with distribution.scope():
        model = _tiny_model(manifest.num_classes)
        compile_classifier(model, 1e-2)
    inputs = TrainingInputs(
        make_train=lambda pairs: distribution.training_stream(
            lambda batch, shard: training_dataset(train, CLIP, batch, 0, shard=shard), GLOBAL_BATCH
        ),
        validation=evaluation_dataset(validation, CLIP, 4),
        steps_per_epoch=STEPS,
        class_weight=balanced_class_weights(train.labels, manifest.num_classes),
        num_classes=manifest.num_classes,
    )
    settings = TrainingSettings(
        epochs=EPOCHS,
        learning_rate=1e-2,
        patience=5,
        verbose=0,
        name="tiny",
        backup_dir=backup_dir,
        distribution=distribution if distribution.distributed else None,
    )
    with distribution.scope():
        result = run_fit(model, inputs.make_train(False), inputs, settings, None, class_weight=inputs.class_weight)
    return model, result


def _evaluate(folder: Path, model, split: GridSplit):
    store, manifest = _read_corpus(folder)
    test = StreamedClipSource(store, manifest.subset("test"))
    conditions = grid(registry.build_suite(["white_noise"], SR), [1, 4])
    keys = ["tiny"]
    result = evaluate_grid({"tiny": keras_predictor(model)}, test, split.share(conditions), CLIP, 4, 0, progress=False)
    return split.merge(result, keys, conditions, fingerprint("t", "test", test.clip_ids, conditions, keys, 0, CLIP))


def _worker_main(folder: Path, out: Path) -> None:
    """One worker of the local cluster (TF_CONFIG set by the test): train, evaluate its share, merge."""
    distribution = start("multi-worker")  # first: before any TensorFlow op
    index = distribution.worker.index
    model, result = _train(folder, distribution, backup_dir=out / f"checkpoints-{index}")
    merged = _evaluate(folder, model, GridSplit(distribution.worker, out / "shared", 60.0, "t"))
    np.savez(out / f"worker-{index}.npz", *[np.asarray(v) for v in model.weights])
    np.savez(
        out / f"merged-{index}.npz",
        **{f"{n}|{s}": merged.probabilities[("tiny", n, s)] for _, n, s in merged.probabilities},
    )
    (out / f"history-{index}.json").write_text(
        json.dumps(
            {
                "history": result.history,
                "replicas": distribution.replicas,
                "keys": [f"{n}|{s}" for _, n, s in merged.probabilities],
            }
        )
    )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# ------------------------------------------------------------------------------------------------ TF_CONFIG
def test_tf_config_names_the_worker_and_the_cluster_size():
    cluster = {"worker": ["a:1", "b:2", "c:3"]}
    with_chief = {"chief": ["z:0"], **cluster}

    def task(kind, index, members=cluster):
        return worker_from_tf_config(json.dumps({"cluster": members, "task": {"type": kind, "index": index}}))

    assert worker_from_tf_config("") == Worker(0, 1)
    assert task("worker", 2) == Worker(2, 3)
    assert task("chief", 0, with_chief) == Worker(0, 4)
    assert task("worker", 0, with_chief) == Worker(1, 4)
    with pytest.raises(ValueError, match="not valid JSON"):
        worker_from_tf_config("{oops")
    with pytest.raises(ValueError, match="worker 3 is not in its cluster"):
        worker_from_tf_config(json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 3}}))
    with pytest.raises(ValueError, match="'ps'"):
        worker_from_tf_config(json.dumps({"cluster": cluster, "task": {"type": "ps", "index": 0}}))


def test_unknown_strategies_and_uneven_batches_are_refused():
    import tensorflow as tf

    with pytest.raises(ValueError, match="'horovod'"):
        start("horovod")
    assert Distribution("mirrored", tf.distribute.get_strategy(), Worker()).per_replica_batch(8) == 8  # one replica
    fake = type("Two", (), {"num_replicas_in_sync": 2})()
    with pytest.raises(ValueError, match="batch_size 7 does not split evenly over 2 replicas"):
        Distribution("mirrored", fake, Worker()).per_replica_batch(7)


def test_the_options_and_flags_are_checked_where_users_give_them(capsys):
    from keras_audio.config import ConfigError
    from keras_audio.suite import cli
    from keras_audio.suite.config import RunConfig

    # an old config's `options` keys are checked under their new names
    for options, match in (
        ({"strategy": "horovod"}, "training.strategy"),
        ({"source": "disk"}, "data.source"),
        ({"stream_threshold_gb": -1}, "data.stream_threshold_gb"),
        ({"shared_timeout_seconds": 0}, "evaluation.shared_timeout_seconds"),
    ):
        with pytest.raises(ConfigError, match=match):
            RunConfig.from_dict({"options": options})
    args = cli.build_parser().parse_args(
        ["train", "--strategy", "mirrored", "--source", "stream", "--shared-dir", "/tmp/shared", "--no-shared-data"]
    )
    config = cli.build_config(args)
    assert (config.training.strategy, config.data.source, config.evaluation.shared_dir) == (
        "mirrored",
        "stream",
        "/tmp/shared",
    )
    assert cli.main(["train", "--strategy", "multi-worker", "--no-shared-data"]) == 2
    assert "--strategy multi-worker needs a --run-name" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ sharded stream
def test_the_workers_shards_together_are_the_global_batches_of_one_process(tmp_path):
    _write_corpus(tmp_path)
    store, manifest = _read_corpus(tmp_path)
    source = ClipSource(store, manifest.subset("train"))
    whole = [x.numpy() for x, _ in training_dataset(source, CLIP, GLOBAL_BATCH, 5).take(4)]
    parts = [
        [x.numpy() for x, _ in training_dataset(source, CLIP, GLOBAL_BATCH // 2, 5, shard=(2, i)).take(4)]
        for i in range(2)
    ]
    for step, batch in enumerate(whole):
        together = np.concatenate([parts[0][step], parts[1][step]])
        assert sorted(map(bytes, together)) == sorted(map(bytes, batch))  # the same examples, bit for bit


def test_mirrored_training_matches_the_default_strategy(tmp_path):
    import tensorflow as tf

    _write_corpus(tmp_path)
    mirrored = Distribution("mirrored", tf.distribute.MirroredStrategy(["/cpu:0"]), Worker())
    model, result = _train(tmp_path, mirrored, backup_dir=tmp_path / "checkpoints")
    plain, reference = _train(tmp_path, start("default"))
    for a, b in zip(model.weights, plain.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    np.testing.assert_allclose(result.history["val_loss"], reference.history["val_loss"], rtol=1e-5)
    again, kept = _train(tmp_path, mirrored, backup_dir=tmp_path / "checkpoints")  # resumed from its final record
    assert kept.history == result.history
    for a, b in zip(again.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ----------------------------------------------------------------------------------------- evaluation split
def _energy_predictor(waveforms):
    energy = np.sqrt(np.mean(np.asarray(waveforms) ** 2, axis=1))
    return np.stack([energy, 1.0 - energy], axis=1)


def test_the_grid_split_over_three_workers_merges_into_the_one_process_table(tmp_path):
    _write_corpus(tmp_path)
    store, manifest = _read_corpus(tmp_path)
    test = ClipSource(store, manifest.subset("test"))
    conditions = grid(registry.build_suite(["white_noise", "clipping"], SR), [5])
    predictors = {"a": _energy_predictor, "b": lambda w: _energy_predictor(w)[:, ::-1]}
    single = evaluate_grid(predictors, test, conditions, CLIP, 4, 0, progress=False)
    name = fingerprint("t", "test", test.clip_ids, conditions, list(predictors), 0, CLIP)
    merged = {}

    def work(index):
        split = GridSplit(Worker(index, 3), tmp_path / "shared", 30.0, "t")
        part = evaluate_grid(predictors, test, split.share(conditions), CLIP, 4, 0, progress=False)
        merged[index] = split.merge(part, list(predictors), conditions, name)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    shares = [GridSplit(Worker(i, 3), tmp_path, 1.0).share(conditions) for i in range(3)]
    assert [len(s) for s in shares] == [1, 1, 1]
    assert {(c.name, c.severity) for s in shares for c in s} == {(c.name, c.severity) for c in conditions}
    for index in range(3):
        assert list(merged[index].probabilities) == list(single.probabilities)  # one process's order
        for key, probabilities in single.probabilities.items():
            np.testing.assert_array_equal(merged[index].probabilities[key], probabilities)
            np.testing.assert_array_equal(merged[index].predictions[key], single.predictions[key])


def test_a_missing_worker_part_is_a_timeout_naming_the_folder(tmp_path):
    _write_corpus(tmp_path)
    store, manifest = _read_corpus(tmp_path)
    test = ClipSource(store, manifest.subset("test"))
    conditions = grid({}, [])
    split = GridSplit(Worker(0, 2), tmp_path / "shared", 0.5, "t")
    part = evaluate_grid({"a": _energy_predictor}, test, split.share(conditions), CLIP, 4, 0, progress=False)
    with pytest.raises(RuntimeError, match=r"worker 1 of 2 wrote no part in .*shared/grid-x within 0.5 s"):
        split.merge(part, ["a"], conditions, "x")


def test_a_split_needs_a_run_name_and_is_off_without_a_shared_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}})
    )
    assert not grid_split(None, None).active
    assert grid_split(tmp_path, "run").share(list(range(5))) == [1, 3]
    with pytest.raises(ValueError, match="--run-name"):
        grid_split(tmp_path, None)


# ------------------------------------------------------------------------------------------- local cluster
def test_two_local_workers_train_and_evaluate_like_one_process(tmp_path):
    _write_corpus(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    hosts = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    repo = Path(__file__).resolve().parents[1]
    workers = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}),
            PYTHONPATH=str(repo),
            CUDA_VISIBLE_DEVICES="",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        log = open(out / f"log-{index}.txt", "w")
        workers.append(
            (
                subprocess.Popen(
                    [sys.executable, __file__, "worker", str(tmp_path), str(out)],
                    env=env,
                    cwd=repo,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        )
    try:
        codes = [process.wait(timeout=CLUSTER_TIMEOUT) for process, _ in workers]
    except subprocess.TimeoutExpired:
        codes = None
    finally:
        for process, log in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    logs = "\n".join((out / f"log-{i}.txt").read_text()[-3000:] for i in range(2))
    assert codes == [0, 0], f"workers ended with {codes}:\n{logs}"

    histories = [json.loads((out / f"history-{i}.json").read_text()) for i in range(2)]
    assert [h["replicas"] for h in histories] == [2, 2]
    weights = [np.load(out / f"worker-{i}.npz") for i in range(2)]
    merged = [np.load(out / f"merged-{i}.npz") for i in range(2)]
    for name in weights[0].files:  # every worker holds the same model ...
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    assert histories[0]["keys"] == histories[1]["keys"]
    for name in merged[0].files:  # ... and the same merged table
        np.testing.assert_array_equal(merged[0][name], merged[1][name])
    assert not (out / "checkpoints-0").exists()  # multi-worker fits keep no checkpoints

    model, result = _train(tmp_path, start("default"))  # one process, the default strategy
    for i, variable in enumerate(model.weights):
        np.testing.assert_allclose(weights[0][f"arr_{i}"], np.asarray(variable), atol=1e-5)
    np.testing.assert_allclose(histories[0]["history"]["val_loss"], result.history["val_loss"], rtol=1e-5)
    single = _evaluate(tmp_path, model, GridSplit())
    assert histories[0]["keys"] == [f"{n}|{s}" for _, n, s in single.probabilities]
    for (_, name, severity), probabilities in single.probabilities.items():
        np.testing.assert_allclose(merged[0][f"{name}|{severity}"], probabilities, atol=1e-5)
        np.testing.assert_array_equal(
            np.argmax(merged[0][f"{name}|{severity}"], -1), single.predictions[("tiny", name, severity)]
        )
    for i, variable in enumerate(model.weights):  # with the workers' weights, one process computes the same table
        variable.assign(weights[0][f"arr_{i}"])
    exact = _evaluate(tmp_path, model, GridSplit())
    for (_, name, severity), probabilities in exact.probabilities.items():
        np.testing.assert_array_equal(merged[0][f"{name}|{severity}"], probabilities)


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    _worker_main(Path(sys.argv[2]), Path(sys.argv[3]))
