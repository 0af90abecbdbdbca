#!/usr/bin/env python3
"""The page's training speed against native wgtrain on the same kind of adapter: SwiftShader
in both (Chromium's WebGPU falls back to SwiftShader here; natively the SwiftShader Vulkan ICD
that scripts/swiftshader.sh fetches). Digits, 64-64(relu)-10, SGD lr 0.1, batch 32, 5 epochs;
the median samples/s of epochs 2-5 (the first includes compiling), native and page runs
interleaved ROUNDS times. Both are CPU emulations: the ratio says what the browser costs, not
how fast a GPU is.

Usage: page-bench.py WGTRAIN_BINARY STATIC_DIR SWIFTSHADER_ICD [ROUNDS]
"""
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("page_test", os.path.join(here, "page-test.py"))
page_test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(page_test)

EPOCHS = 5


def median_rate(epochs):
    return statistics.median(e["samples_per_sec"] for e in epochs[1:])


def native(wgtrain, icd):
    with tempfile.TemporaryDirectory() as d:
        metrics = os.path.join(d, "m.jsonl")
        env = dict(os.environ, VK_ICD_FILENAMES=icd, WGPU_BACKEND="vulkan", WGPU_ADAPTER_NAME="swiftshader")
        subprocess.run([wgtrain, "train", "--data", "digits", "--hidden", "64", "--lr", "0.1", "--batch", "32",
                        "--epochs", str(EPOCHS), "--device", "gpu", "--metrics", metrics],
                       check=True, env=env, capture_output=True)
        with open(metrics) as f:
            return median_rate([json.loads(line) for line in f])


def page(driver, base):
    result = driver.run_page(f"{base}?dataset=digits&epochs={EPOCHS}&hidden=64&lr=0.1&batch=32&device=gpu&autostart=1")
    return median_rate(result["epochs"]), result["device"]


def main():
    wgtrain, static, icd = (os.path.abspath(a) for a in sys.argv[1:4])
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    server = page_test.serve(static)
    base = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    driver = page_test.Driver(webgpu=True)
    rows = []
    try:
        for r in range(rounds):
            n = native(wgtrain, icd)
            p, device = page(driver, base)
            rows.append((n, p))
            print(f"round {r + 1}: native {n:,.0f} samples/s, page {p:,.0f} samples/s, page/native {p / n:.2f}")
    finally:
        driver.close()
        server.shutdown()
    ratios = [p / n for n, p in rows]
    print(f"page on {device}")
    print(f"median page/native ratio {statistics.median(ratios):.2f} over {rounds} interleaved rounds "
          f"(native median {statistics.median(n for n, _ in rows):,.0f}, page median {statistics.median(p for _, p in rows):,.0f} samples/s)")


if __name__ == "__main__":
    main()
