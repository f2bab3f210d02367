"""Copy a run's plots into the docs: the pictures on the results page come from the run named there.

    python benchmarks/run.py --run-name readme-default          # the default run (generated corpus, seed 0)
    python docs/scripts/copy_run_plots.py results/readme-default

Copies `plots/{accuracy_vs_severity,corruption_heatmap,learning_curves,spectrogram_gallery}.png` of the run
folder into `docs/images/default-run/`, after checking with `benchmarks/check_readme.py` that the run is the
one whose table the README and the results page show (so the pictures and the table cannot come from two runs).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLOTS = ("accuracy_vs_severity", "corruption_heatmap", "learning_curves", "spectrogram_gallery")
OUT = REPO / "docs" / "images" / "default-run"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the default run's folder, results/<run-name>")
    args = parser.parse_args(argv)
    missing = [name for name in PLOTS if not (args.run / "plots" / f"{name}.png").is_file()]
    if missing:
        print(f"{args.run}: no plots/{missing[0]}.png (is it a finished run folder?)", file=sys.stderr)
        return 2
    check = subprocess.run([sys.executable, str(REPO / "benchmarks" / "check_readme.py"), str(args.run)])
    if check.returncode:
        print(f"{args.run}: its figures differ from the README's table; not copying its plots", file=sys.stderr)
        return check.returncode
    OUT.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:
        shutil.copyfile(args.run / "plots" / f"{name}.png", OUT / f"{name}.png")
    print(f"copied {len(PLOTS)} plots of {args.run} into {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
