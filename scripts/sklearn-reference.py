#!/usr/bin/env python3
"""The scikit-learn figures of tests/cli_tabular.rs: MLPClassifier (MLPRegressor for the
regression fixture, on standardised targets as wgtrain trains them) with its defaults behind the
usual pipeline (mean imputation and StandardScaler for numbers; a constant "missing" value and
OneHotEncoder, unknown values ignored, for text), trained on each fixture's training file and
scored on its test file (accuracy; R² for the regression): the very files the tests write.

    WGTRAIN_FIXTURES=/tmp/fx cargo test --release --test cli_tabular -- --ignored write_fixtures
    python3 scripts/sklearn-reference.py /tmp/fx

Needs scikit-learn and pandas (pip install scikit-learn pandas). Prints one line per fixture:
name, test accuracy, and the mean and spread over random_state 0..4.
"""
import statistics
import sys
from pathlib import Path

import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# name: (read_csv options, label column, columns to drop)
FIXTURES = {
    "cancer": ({}, "diagnosis", []),
    "wine": ({"sep": ";", "decimal": ","}, "Sorte", []),
    "churn": ({}, "churned", ["id"]),
    "diabetes": ({}, "target", []),
}
REGRESSION = {"diabetes"}


def score(folder: Path, name: str, seed: int) -> float:
    opts, label, drop = FIXTURES[name]
    train = pd.read_csv(folder / f"{name}-train.csv", **opts)
    test = pd.read_csv(folder / f"{name}-test.csv", **opts)
    x, y = train.drop(columns=[label, *drop]), train[label]
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    text = [c for c in x.columns if c not in numeric]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                text,
            ),
        ]
    )
    if name in REGRESSION:
        net = TransformedTargetRegressor(
            regressor=MLPRegressor(random_state=seed), transformer=StandardScaler()
        )
    else:
        net = MLPClassifier(random_state=seed)
    model = make_pipeline(prep, net)
    model.fit(x, y)
    return model.score(test.drop(columns=[label, *drop]), test[label])


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    print(f"scikit-learn {sklearn.__version__}, pandas {pd.__version__}")
    for name in FIXTURES:
        runs = [score(folder, name, seed) for seed in range(5)]
        print(
            f"{name}: random_state 0 {runs[0]:.4f}, "
            f"mean {statistics.mean(runs):.4f} (min {min(runs):.4f}, max {max(runs):.4f})"
        )


if __name__ == "__main__":
    main()
