"""Is the head the limit? Logistic-regression heads on the frozen GE2E embeddings, against the suite's head.

    python benchmarks/pretrained_probe.py --data-root /work/shared/data          # seeds 0-4
    python benchmarks/pretrained_probe.py --seeds 0 1 --out results/pretrained

The ``ge2e`` family's head is a softmax layer with an L2 penalty of `models.pretrained.L2` per example on the
embeddings divided by their training RMS, trained with balanced class weights and early stopping (Keras). A
frozen encoder's embedding of a clip never changes, so the same head can be fitted in closed form: here
scikit-learn's LogisticRegression (lbfgs, to convergence) on exactly the embeddings the run's head sees (the
clips decoded at 16 kHz by the suite's decode cache, each clip's centre `--clip-seconds` window, the encoder of
`keras_audio.pretrained.ge2e`, `feature_cache.FeatureSource`), for a grid of penalties and class weights:

- ``C = 1 / (2 · L2 · n_train)`` is the suite's default penalty in scikit-learn's terms (``suite L2``);
- balanced class weights are the suite's (`training.balanced_class_weights`).

Two settings, both gender, both scored by balanced accuracy:

- ``audiomnist split``: AudioMNIST_AZ's own speaker-disjoint split drawn from each seed
  (`corpora.digits.load_audiomnist`: 70/15/15 % of the speakers, stratified by gender), fitted on the training
  speakers, scored on the test speakers;
- ``generated -> audiomnist``: fitted on the generated corpus's training split, scored on all of AudioMNIST_AZ
  (3,082 clips, 59 speakers).

Writes ``probe.json`` and ``probe.md`` under ``--out`` (default ``results/pretrained``) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_audio import paths  # noqa: E402

AUDIOMNIST = "audiomnist_az"
SAMPLE_RATE = 16000
# (label, C or None for the suite's L2, class_weight)
HEADS = [("suite L2, balanced", None, "balanced"), ("suite L2, unweighted", None, None)] + [
    (f"C={c:g}, {'balanced' if w else 'unweighted'}", c, w) for c in (0.01, 0.1, 1.0, 10.0) for w in ("balanced", None)
]


def embeddings(manifest, cache_dir: Path, clip_seconds: float, encoder) -> np.ndarray:
    """The encoder's output for each clip of `manifest` (centre window), as the run's head sees it."""
    from keras_audio.cache import load_waveforms
    from keras_audio.config import FeatureConfig
    from keras_audio.feature_cache import FeatureSource
    from keras_audio.pipeline import ClipSource

    decoded = load_waveforms(
        manifest, SAMPLE_RATE, cache_dir, progress=False, min_samples=FeatureConfig().n_fft
    )  # the run's, so its decode cache is shared
    if decoded.bad_files:
        raise ValueError(f"{manifest.name}: {len(decoded.bad_files)} bad file(s)")
    clip_samples = round(clip_seconds * SAMPLE_RATE)
    return FeatureSource(ClipSource(decoded.store, manifest), encoder, clip_samples).embeddings


def balanced_accuracy(y_true, y_pred) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, y_pred))


def fit_score(x_train, y_train, x_test, y_test, c, class_weight, l2) -> float:
    from sklearn.linear_model import LogisticRegression

    scale = float(np.sqrt(np.mean(x_train.astype(np.float64) ** 2)))  # the head's `embedding_scale`
    c = 1.0 / (2.0 * l2 * len(x_train)) if c is None else c
    head = LogisticRegression(C=c, class_weight=class_weight, max_iter=5000)
    head.fit(x_train / scale, y_train)
    return balanced_accuracy(y_test, head.predict(x_test / scale))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data-root", type=Path, help="the development recordings (default ../shared/data)")
    parser.add_argument("--synthetic-dir", type=Path, help="the generated corpus (default datasets/synthetic)")
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="the run's window (default 2.0, the run's)")
    parser.add_argument("--out", type=Path, help="default: results/pretrained")
    args = parser.parse_args(argv)
    from keras_audio import corpora
    from keras_audio.models.pretrained import L2
    from keras_audio.pretrained.ge2e import build_ge2e_encoder

    root = (args.data_root or paths.shared_data_dir()) / AUDIOMNIST
    if not root.is_dir():
        print(f"pretrained_probe.py: needs {root} (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    out = (args.out or paths.results_dir() / "pretrained").resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    encoder = build_ge2e_encoder()
    base = corpora.load_corpus("audiomnist", root, "gender", args.seeds[0])
    x_az = embeddings(base, paths.cache_dir(), args.clip_seconds, encoder)
    y_az = np.asarray(base.label_ids)
    synthetic = corpora.load_corpus("synthetic", args.synthetic_dir, "gender", 0)
    assert list(synthetic.classes) == list(base.classes), (synthetic.classes, base.classes)
    train = synthetic.subset("train")
    x_gen, y_gen = embeddings(train, paths.cache_dir(), args.clip_seconds, encoder), np.asarray(train.label_ids)
    print(
        f"embeddings: {len(x_az)} AudioMNIST_AZ clips, {len(x_gen)} generated training clips "
        f"({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    order = {clip: i for i, clip in enumerate(base.clip_ids)}
    results = {
        "classes": list(base.classes),
        "l2": L2,
        "clip_seconds": args.clip_seconds,
        "seeds": args.seeds,
        "heads": {},
    }
    for label, c, weight in HEADS:
        split_scores = []
        for seed in args.seeds:
            frame = corpora.load_corpus("audiomnist", root, "gender", seed).frame
            index = {
                split: np.array([order[c_] for c_ in frame.loc[frame["split"] == split, "clip_id"]])
                for split in ("train", "test")
            }
            split_scores.append(
                fit_score(
                    x_az[index["train"]], y_az[index["train"]], x_az[index["test"]], y_az[index["test"]], c, weight, L2
                )
            )
        transfer = fit_score(x_gen, y_gen, x_az, y_az, c, weight, L2)
        results["heads"][label] = {"audiomnist_split": split_scores, "generated_to_audiomnist": transfer}
        print(
            f"{label:28s} split {np.mean(split_scores):.3f} ({' '.join(f'{v:.3f}' for v in split_scores)}), "
            f"transfer {transfer:.3f}",
            flush=True,
        )
    (out / "probe.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        "| head | AudioMNIST_AZ split: balanced, mean ± sd | per seed | generated -> all of AudioMNIST_AZ |",
        "| --- | ---: | --- | ---: |",
    ]
    for label, r in results["heads"].items():
        s = r["audiomnist_split"]
        sd = np.std(s, ddof=1) if len(s) > 1 else 0.0
        lines.append(
            f"| {label} | {np.mean(s):.3f} ± {sd:.3f} | {' '.join(f'{v:.3f}' for v in s)} | "
            f"{r['generated_to_audiomnist']:.3f} |"
        )
    (out / "probe.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
