#!/usr/bin/env python3
"""The page's end-to-end test, in Debian's headless Chromium through chromedriver's WebDriver
API (plain HTTP; no browser download, no npm package).

1. The page, served from a scratch copy of web/static on 127.0.0.1, loaded with
   ?dataset=digits&epochs=N&autostart=1 trains on WebGPU without a click, then writes the run
   as JSON into <pre id="result"> and sets document.title to "done" ("failed: <why>" else).
   Checked: the loss fell, test accuracy >= 90%, the model downloaded from the page gives the
   same accuracy under `wgtrain eval`, and a screenshot of the finished page is saved.
2. A broken CSV file: the page fails with the CLI's own message for that file.
3. A browser without WebGPU (no --enable-unsafe-webgpu): the page says so and trains on the
   CPU path.

Usage: page-test.py WGTRAIN_BINARY STATIC_DIR OUT_DIR
"""
import base64
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

EPOCHS = 3
TIMEOUT = 600


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    """One chromedriver and one Chromium session."""

    def __init__(self, webgpu):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [os.environ.get("CHROMEDRIVER", "chromedriver"), f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.profile = tempfile.mkdtemp(prefix="wgtrain-chromium-")
        args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            f"--user-data-dir={self.profile}",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,1400",
        ]
        if webgpu:
            args.append("--enable-unsafe-webgpu")
        for _ in range(100):
            try:
                self.call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": args}}}}
        self.session = self.call("POST", "/session", caps)["value"]["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return json.loads(r.read())

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)["value"]

    def script(self, js, *args):
        return self.s("POST", "/execute/sync", {"script": js, "args": list(args)})

    def script_async(self, js):
        self.s("POST", "/timeouts", {"script": TIMEOUT * 1000})
        return self.s("POST", "/execute/async", {"script": js, "args": []})

    def element(self, css):
        found = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def send_file(self, css, path):
        self.s("POST", f"/element/{self.element(css)}/value", {"text": path})

    def click(self, css):
        self.s("POST", f"/element/{self.element(css)}/click", {})

    def text(self, element_id):
        return self.script(f"return document.getElementById('{element_id}').textContent")

    def wait_for(self, js, what):
        end = time.time() + TIMEOUT
        while time.time() < end:
            if self.script(js):
                return
            time.sleep(0.3)
        raise AssertionError(f"{what} did not happen in {TIMEOUT} s")

    def finished_title(self):
        """document.title once it is "done" or "failed: ..."."""
        end = time.time() + TIMEOUT
        while time.time() < end:
            title = self.script("return document.title")
            if title == "done" or title.startswith("failed"):
                return title
            time.sleep(0.5)
        status = self.script("return document.getElementById('status').textContent")
        raise AssertionError(f"the page did not finish in {TIMEOUT} s: title {title!r}, status {status!r}")

    def run_page(self, url):
        """Loads the page at `url` (which trains on its own: autostart=1), waits for it to
        finish, and returns its result JSON; fails when it failed."""
        self.s("POST", "/url", {"url": url})
        title = self.finished_title()
        assert title == "done", title
        return json.loads(self.text("result"))

    def download_model(self, path):
        """Writes the model the page offers as its download to `path`."""
        b64 = self.script_async(
            "const done = arguments[arguments.length - 1];"
            "fetch(document.getElementById('download').href).then(r => r.arrayBuffer())"
            ".then(b => { let s = ''; new Uint8Array(b).forEach(c => s += String.fromCharCode(c)); done(btoa(s)); })"
            ".catch(e => done('error: ' + e));"
        )
        assert not b64.startswith("error"), b64
        with open(path, "wb") as f:
            f.write(base64.b64decode(b64))

    def close(self):
        try:
            self.s("DELETE", "")
        finally:
            self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder):
    handler = functools.partial(Quiet, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    wgtrain, static, out = (os.path.abspath(a) for a in sys.argv[1:4])
    os.makedirs(out, exist_ok=True)
    site = tempfile.mkdtemp(prefix="wgtrain-site-")
    shutil.copytree(static, site, dirs_exist_ok=True)
    # A table as pandas writes it (its index as an unnamed first column), with a text
    # category and a text label that the two measurements decide; and the same rows without
    # the label to predict on.
    rows = []
    for i in range(240):
        a, b = (i * 37 % 101) / 10.0, (i * 53 % 89) / 10.0
        island = ["Biscoe", "Dream", "Torgersen"][i % 3]
        species = "Adelie" if a + b < 9.5 else ("Gentoo" if a > b else "Chinstrap")
        rows.append((i, island, a, b, species))
    with open(os.path.join(site, "penguins.csv"), "w") as f:
        f.write(",island,bill_length,bill_depth,species\n")
        f.writelines(f"{i},{isl},{a},{b},{sp}\n" for i, isl, a, b, sp in rows)
    unlabelled = os.path.join(out, "penguins-new.csv")
    with open(unlabelled, "w") as f:
        f.write(",island,bill_length,bill_depth\n")
        f.writelines(f"{i},{isl},{a},{b}\n" for i, isl, a, b, _ in rows[:5])
    # A German Excel export with a comment line: ';', decimal comma, '#N/A' for missing.
    with open(os.path.join(site, "excel.csv"), "w") as f:
        f.write("# exported 2026-12-07\nlaenge;breite;art\n")
        f.writelines(f"{str(a).replace('.', ',')};{'#N/A' if i % 17 == 0 else str(b).replace('.', ',')};{sp}\n"
                     for i, _, a, b, sp in rows)
    # A file the reader must refuse: row 3 has fewer cells than the header.
    broken = os.path.join(site, "broken.csv")
    with open(broken, "w") as f:
        f.write("a,b,label\n1,2,0\n3\n4,5,1\n")
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/index.html"

    # 1. digits on WebGPU, from the URL alone.
    d = Driver(webgpu=True)
    try:
        result = d.run_page(f"{base}?dataset=digits&epochs={EPOCHS}&hidden=64&lr=0.1&batch=32&device=gpu&autostart=1")
        print("page-test: digits on", result["device"], "in", round(result["seconds"], 1), "s")
        ep = result["epochs"]
        assert len(ep) == EPOCHS, ep
        assert ep[-1]["train_loss"] < ep[0]["train_loss"], ep
        acc = ep[-1]["test_acc"]
        assert acc >= 0.90, f"test accuracy {acc}"
        assert result["device"].startswith("gpu:"), result["device"]
        with open(os.path.join(out, "page.png"), "wb") as f:
            f.write(base64.b64decode(d.s("GET", "/screenshot")))
        model = os.path.join(out, "page-model.safetensors")
        d.download_model(model)
        ev = subprocess.run([wgtrain, "eval", "--model", model, "--data", "digits", "--json"],
                            capture_output=True, text=True)
        assert ev.returncode == 0, ev.stderr
        cli_acc = json.loads(ev.stdout)["accuracy"]
        assert abs(cli_acc - acc) < 1e-9, f"wgtrain eval {cli_acc}, the page {acc}"
        assert abs(result["evaluation"]["accuracy"] - acc) < 1e-9, result["evaluation"]
        print(f"page-test: test accuracy {acc:.4f} on the page and under wgtrain eval")

        # 2. A broken CSV: the CLI's message.
        d.s("POST", "/url", {"url": f"{base}?csv=broken.csv&epochs=1&autostart=1"})
        title = d.finished_title()
        assert title.startswith("failed: "), title
        page_msg = title[len("failed: "):]
        cli = subprocess.run([wgtrain, "train", "--data", broken, "--epochs", "1", "--device", "cpu"],
                             capture_output=True, text=True, cwd=site)
        assert cli.returncode != 0, cli.stdout
        cli_msg = cli.stderr.strip().splitlines()[0].removeprefix("error: ").replace(broken, "broken.csv")
        assert page_msg == cli_msg, f"page: {page_msg!r}\ncli:  {cli_msg!r}"
        print("page-test: a broken CSV gives the CLI's message:", page_msg)

        # 3. A pandas export: its schema shown, trained, predictions for new rows, then the
        # downloaded checkpoint continued (resume) for two more epochs.
        result = d.run_page(f"{base}?csv=penguins.csv&label=species&epochs=30&hidden=16&lr=0.05&batch=16&device=gpu&autostart=1")
        schema = d.text("schema")
        assert "240 rows" in schema and "3 levels: Biscoe, Dream, Torgersen" in schema, schema
        assert "left out (row index)" in schema, schema
        notes = d.text("notes")
        assert "index" in notes, notes
        acc = result["epochs"][-1]["valid_acc"]
        assert acc >= 0.8, f"held-out accuracy {acc}"
        print(f"page-test: penguins.csv (pandas index left out) trained: {len(result['epochs'])} epochs, "
              f"held-out accuracy {acc}")
        d.send_file("#predict-file", unlabelled)
        d.wait_for("return !document.getElementById('predictions').hidden", "predictions")
        predictions = d.text("predictions").strip().splitlines()
        assert len(predictions) == 6 and "Adelie" in predictions[0], predictions
        print("page-test: predictions for 5 new rows:", predictions[0], "|", predictions[1])
        with open(os.path.join(out, "page-csv.png"), "wb") as f:
            f.write(base64.b64decode(d.s("GET", "/screenshot")))
        penguins_model = os.path.join(out, "penguins.safetensors")
        d.download_model(penguins_model)
        d.send_file("#checkpoint", penguins_model)
        d.click("#resume")
        d.script("document.getElementById('epochs').value = '2'; document.title = 'resuming';")
        d.click("#train")
        title = d.finished_title()
        assert title == "done", title
        resumed = json.loads(d.text("result"))
        numbers = [e["epoch"] for e in resumed["epochs"]]
        assert numbers == [31, 32], numbers
        print("page-test: the downloaded checkpoint resumed at epochs", numbers)

        # 4. The reading settings: the comment line refused until the page is told of it.
        d.s("POST", "/url", {"url": f"{base}?csv=excel.csv&label=art&epochs=2&autostart=1"})
        title = d.finished_title()
        assert title.startswith("failed: ") and "the setting `comment`" in title, title
        result = d.run_page(f"{base}?csv=excel.csv&label=art&comment=%23&na_values=%23N/A&epochs=2&autostart=1")
        schema = d.text("schema")
        assert "';'-separated, decimal mark ','" in schema and "comment" in schema, schema
        print("page-test: a German Excel export with a comment line: refused naming the setting, then read with it:",
              len(result["epochs"]), "epochs")
    finally:
        d.close()

    # 5. No WebGPU: said, and trained on the CPU path.
    d = Driver(webgpu=False)
    try:
        result = d.run_page(f"{base}?dataset=digits&epochs=1&hidden=16&autostart=1")
        assert result["device"].startswith("cpu"), result["device"]
        said = d.script("return document.getElementById('gpu').textContent")
        assert "CPU" in said, said
        print("page-test: without WebGPU:", result["device"], "|", said)
    finally:
        d.close()
        server.shutdown()
        shutil.rmtree(site, ignore_errors=True)
    print("page-test: passed")


if __name__ == "__main__":
    main()
