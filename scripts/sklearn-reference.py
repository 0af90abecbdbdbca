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

    python3 scripts/sklearn-reference.py --public tests/fixtures/public

does the same for the committed exports of public tables (tests/cli_public_fixtures.rs), each
read as its writer meant it (pandas' or R's index, ';' and decimal comma, thousands '.',
windows-1252), with the baseline a model that ignores the inputs reaches (the most frequent
class's accuracy and the training class frequencies' log-loss on the test file; R² 0). A date column becomes the inputs wgtrain makes of it (days since 1970, the time of
year as sine and cosine, the weekday, the time of day as sine and cosine when there is one), so
the learners are compared on the same features.
"""
import math
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



def preprocessing(numeric, text):
    """The usual pipeline: mean imputation and scaling for numbers, a constant "missing" and
    one-hot encoding (unknown values ignored) for text."""
    return ColumnTransformer(
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

def score(folder: Path, name: str, seed: int) -> float:
    opts, label, drop = FIXTURES[name]
    train = pd.read_csv(folder / f"{name}-train.csv", **opts)
    test = pd.read_csv(folder / f"{name}-test.csv", **opts)
    x, y = train.drop(columns=[label, *drop]), train[label]
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    text = [c for c in x.columns if c not in numeric]
    prep = preprocessing(numeric, text)
    if name in REGRESSION:
        net = TransformedTargetRegressor(
            regressor=MLPRegressor(random_state=seed), transformer=StandardScaler()
        )
    else:
        net = MLPClassifier(random_state=seed)
    model = make_pipeline(prep, net)
    model.fit(x, y)
    return model.score(test.drop(columns=[label, *drop]), test[label])


GERMAN = {"sep": ";", "decimal": ",", "thousands": "."}
# name: (file extension, read_csv options, label column, regression, date column and its format)
PUBLIC = {
    "penguins": ("csv", {"index_col": 0}, "species", False, None),
    "pinguine": ("csv", {**GERMAN, "encoding": "cp1252"}, "Art", False, None),
    "seattle-weather": ("csv", {}, "weather", False, ("date", "%Y-%m-%d")),
    "seattle-wetter": ("csv", GERMAN, "Wetter", False, ("Datum", "%d.%m.%Y")),
    "seattle-temps": ("csv", {}, "temp", True, ("date", "%Y-%m-%d %H:%M:%S")),
    "diamonds-de": ("csv", {**GERMAN, "encoding": "utf-8-sig"}, "price", True, None),
    "pima": ("csv", {"index_col": 0}, "type", False, None),
    "airquality": ("csv", {"index_col": 0}, "Temp", True, None),
    "airquality-us": ("csv", {}, "Temp", True, ("Date", "%m/%d/%Y")),
    "mpg": ("tsv", {"sep": "\t"}, "drv", False, None),
    "default": ("csv", {"index_col": 0}, "default", False, None),
}


def date_features(df: pd.DataFrame, column: str, fmt: str) -> pd.DataFrame:
    """The column as wgtrain's date inputs (src/data/table/date.rs)."""
    import numpy as np

    t = pd.to_datetime(df[column], format=fmt)
    seconds = (t - t.dt.normalize()).dt.total_seconds()
    days = (t.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    year_len = np.where(t.dt.is_leap_year, 366.0, 365.0)
    share = (t.dt.day_of_year - 1 + seconds / 86400) / year_len
    out = df.drop(columns=column).copy()
    out[f"{column}_day"] = days + seconds / 86400
    out[f"{column}_year_sin"] = np.sin(2 * np.pi * share)
    out[f"{column}_year_cos"] = np.cos(2 * np.pi * share)
    out[f"{column}_weekday"] = t.dt.day_of_week
    if (seconds != 0).any():
        out[f"{column}_day_sin"] = np.sin(2 * np.pi * seconds / 86400)
        out[f"{column}_day_cos"] = np.cos(2 * np.pi * seconds / 86400)
    return out


def public_score(folder: Path, name: str, seed: int):
    ext, opts, label, regression, date = PUBLIC[name]
    if date:
        # As text: with thousands=".", pandas reads 24.01.2012 as the number 24012012.
        opts = {**opts, "dtype": {date[0]: str}}
    train = pd.read_csv(folder / f"{name}-train.{ext}", **opts)
    test = pd.read_csv(folder / f"{name}-test.{ext}", **opts)
    if date:
        train, test = (date_features(d, *date) for d in (train, test))
    x, y = train.drop(columns=[label]), train[label]
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    text = [c for c in x.columns if c not in numeric]
    prep = preprocessing(numeric, text)
    if regression:
        net = TransformedTargetRegressor(
            regressor=MLPRegressor(random_state=seed), transformer=StandardScaler()
        )
        baseline = "R² 0"
    else:
        net = MLPClassifier(random_state=seed)
        prior = y.value_counts(normalize=True)
        log_loss = -sum(math.log(prior.get(v, 1e-15)) for v in test[label]) / len(test)
        accuracy = (test[label] == y.mode()[0]).mean()
        baseline = f"accuracy {accuracy:.4f}, log-loss {log_loss:.4f}"
    model = make_pipeline(prep, net)
    model.fit(x, y)
    return model.score(test.drop(columns=[label]), test[label]), baseline


def public(folder: Path) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, (_, _, _, regression, _) in PUBLIC.items():
        runs = [public_score(folder, name, seed) for seed in range(5)]
        scores = [r[0] for r in runs]
        what = "R²" if regression else "accuracy"
        print(
            f"{name}: {what} random_state 0 {scores[0]:.4f}, mean {statistics.mean(scores):.4f} "
            f"(min {min(scores):.4f}, max {max(scores):.4f}); baseline {runs[0][1]}"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--public":
        print(f"scikit-learn {sklearn.__version__}, pandas {pd.__version__}")
        public(Path(sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/public"))
        return
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
