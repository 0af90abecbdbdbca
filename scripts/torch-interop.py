#!/usr/bin/env python3
"""wgtrain and PyTorch reading each other's safetensors files, checked against each other.

1. PyTorch -> wgtrain: a seeded nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3)) saved with
   safetensors.torch.save_file(model.state_dict()) (names 0.weight, 0.bias, 2.weight, 2.bias, no
   metadata); `wgtrain predict --activation relu --output softmax` on a CSV of inputs against
   torch.softmax(model(x)).
2. wgtrain -> PyTorch: a network `wgtrain train --standardize` saved, rebuilt in PyTorch from
   the file's metadata and tensors as docs/FORMATS.md shows (layers.{i} -> Sequential index 2i,
   (x - input.mean) / input.std first), against `wgtrain predict` on the same rows.

Prints the versions and the largest absolute difference of each; exits 1 when one is over 1e-5.
usage: /usr/bin/python3 scripts/torch-interop.py [path/to/wgtrain]
needs: torch, numpy, safetensors (Debian: apt-get install python3-torch python3-numpy; pip
install safetensors, e.g. in a venv made with --system-site-packages).
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

TOLERANCE = 1e-5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wgtrain_binary():
    if len(sys.argv) > 1:
        return os.path.abspath(sys.argv[1])
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "wgtrain")


def write_csv(path, x, labels=None):
    """Rows of float32 values in their shortest round-trip text, so wgtrain reads the same."""
    with open(path, "w") as f:
        for i, row in enumerate(x):
            cells = [np.format_float_positional(np.float32(v), unique=True) for v in row]
            if labels is not None:
                cells.append(str(int(labels[i])))
            f.write(",".join(cells) + "\n")


def predict(wgtrain, model, inputs, out, *flags):
    """wgtrain predict's probabilities: (rows, classes) float64."""
    subprocess.run(
        [wgtrain, "predict", "--model", model, "--input", inputs, "--out", out, *flags],
        check=True,
    )
    rows = [line.strip().split(",") for line in open(out).readlines()[1:]]
    return np.array([[float(c) for c in r[1:]] for r in rows])


def load_wgtrain_in_torch(path):
    """A wgtrain checkpoint as a torch.nn.Sequential, plus its input standardisation (or None)."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(path)
    sizes = [int(s) for s in meta["sizes"].split(",")]
    hidden = meta["hidden"].split(",") if meta["hidden"] else []
    act = {
        "relu": torch.nn.ReLU,
        "tanh": torch.nn.Tanh,
        "sigmoid": torch.nn.Sigmoid,
        "leaky-relu": lambda: torch.nn.LeakyReLU(0.01),
        "linear": torch.nn.Identity,
    }
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(hidden):
            layers.append(act[hidden[i]]())
    net = torch.nn.Sequential(*layers)
    state = {}
    for name, t in tensors.items():
        parts = name.split(".")  # layers.{i}.weight / .bias; optim.* and input.* are not layers
        if parts[0] == "layers" and len(parts) == 3:
            state[f"{2 * int(parts[1])}.{parts[2]}"] = t
    net.load_state_dict(state)  # strict: every Linear's weight and bias, nothing else
    z = (tensors["input.mean"], tensors["input.std"]) if "input.mean" in tensors else None
    return net, z


def main():
    wgtrain = wgtrain_binary()
    version = subprocess.run([wgtrain, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"torch {torch.__version__}, numpy {np.__version__}, safetensors {safetensors.__version__}, {version}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        # 1. PyTorch -> wgtrain.
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        save_file(model.state_dict(), os.path.join(d, "torch.safetensors"))
        x = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
        write_csv(os.path.join(d, "x.csv"), x.numpy())
        with torch.no_grad():
            want = torch.softmax(model(x), dim=1).double().numpy()
        got = predict(
            wgtrain,
            os.path.join(d, "torch.safetensors"),
            os.path.join(d, "x.csv"),
            os.path.join(d, "p.csv"),
            "--activation",
            "relu",
            "--output",
            "softmax",
        )
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        print(f"pytorch -> wgtrain: {got.shape[0]} rows x {got.shape[1]} probabilities, max abs diff {diff:.2e}")

        # 2. wgtrain -> PyTorch, with the input standardisation (features of unequal scales).
        rng = np.random.default_rng(2)
        xs = rng.normal(size=(120, 5)) * np.array([1.0, 10.0, 100.0, 0.1, 5.0]) + 3.0
        labels = (xs[:, 0] + xs[:, 1] / 10 > 3.5).astype(int) + (xs[:, 2] > 300).astype(int)
        write_csv(os.path.join(d, "train.csv"), xs, labels)
        subprocess.run(
            [wgtrain, "train", "--device", "cpu", "--data", os.path.join(d, "train.csv"),
             "--hidden", "16,8", "--activation", "tanh,relu", "--standardize", "--epochs", "5",
             "--quiet", "--save", os.path.join(d, "w.safetensors")],
            check=True,
        )
        write_csv(os.path.join(d, "rows.csv"), xs[:40])
        got = predict(
            wgtrain,
            os.path.join(d, "w.safetensors"),
            os.path.join(d, "rows.csv"),
            os.path.join(d, "q.csv"),
        )
        net, z = load_wgtrain_in_torch(os.path.join(d, "w.safetensors"))
        assert z is not None, "--standardize saved no input.mean / input.std"
        rows = torch.tensor(xs[:40], dtype=torch.float32)
        with torch.no_grad():
            want = torch.softmax(net((rows - z[0]) / z[1]), dim=1).double().numpy()
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        print(f"wgtrain -> pytorch: {got.shape[0]} rows x {got.shape[1]} probabilities, max abs diff {diff:.2e}")
    if worst > TOLERANCE:
        print(f"FAIL: max abs diff {worst:.2e} over {TOLERANCE:.0e}")
        sys.exit(1)
    print(f"ok: max abs diff {worst:.2e} <= {TOLERANCE:.0e}")


if __name__ == "__main__":
    main()
