"""A tour of a search in optuna-dashboard, in a real browser: screenshots and checks.

Runs a short search with the search command (digits, offline), starts optuna-dashboard
on its study, and visits the study's overview, its trials table, a trial with a long
lineage, and the analytics page in headless Chromium (Selenium drives Debian's
``chromium`` and ``chromium-driver``). For each page it saves a screenshot of the whole
page at 1,600 px wide and measures the page's width (horizontal overflow shows as a
width above 1,600); afterwards it checks the dashboard's log for server errors.

    apt-get install -y chromium chromium-driver && pip install selenium
    python dashboard_tour.py                     # results/dashboard/
    python dashboard_tour.py --quick --output-dir /tmp/tour   # 8 trials

Exit status 1 if a page overflows, the server logged an error, or a page misses what it
should show (named objectives, the note, the diagram, the genealogy figure).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any
import urllib.request

from _common import search_command
import optuna

from optuna_lemonade import _optuna_compat as compat


HERE = pathlib.Path(__file__).resolve().parent
WIDTH = 1600


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_search(directory: pathlib.Path, trials: int) -> str:
    command, storage = search_command(
        directory, "--dataset", "digits", "--trials", str(trials), "--seed", "0"
    )
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, check=True)
    return storage


@contextlib.contextmanager
def dashboard(storage: str, artifacts: pathlib.Path, log: pathlib.Path) -> Any:
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                # the one installed with this Python, on PATH or not
                str(pathlib.Path(sys.executable).parent / "optuna-dashboard"),
                storage,
                "--artifact-dir",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(url + "/api/studies", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                raise RuntimeError(f"optuna-dashboard did not start; see {log}")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def browser() -> Any:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={WIDTH},1000",
    ):
        options.add_argument(argument)
    service = webdriver.ChromeService(
        executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"
    )
    return webdriver.Chrome(options=options, service=service)


def visit(driver: Any, url: str, path: pathlib.Path, wait: float) -> dict[str, Any]:
    """Load ``url``, let it render, screenshot the whole page; measure it."""
    driver.set_window_size(WIDTH, 1000)
    driver.get(url)
    time.sleep(wait)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    # The trial pages scroll inside a panel, not the document: the tallest element is
    # the page's real height.
    height = driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, ...Array.from("
        "document.querySelectorAll('*')).filter(e => ['auto', 'scroll'].includes("
        "getComputedStyle(e).overflowY)).map(e => e.getBoundingClientRect().top + "
        "e.scrollHeight))"
    )
    # the window holds the browser's frame too (about 140 px in headless Chromium)
    driver.set_window_size(WIDTH, min(max(height + 300, 1000), 6000))
    time.sleep(1.0)
    driver.save_screenshot(str(path))
    text = driver.execute_script("return document.body.innerText")
    return {"url": url, "screenshot": path.name, "width": width, "height": height, "text": text}


def longest_lineage(study: optuna.Study) -> int:
    def depth(number: int) -> int:
        parent = study.trials[number].user_attrs.get("lemonade_parent")
        return 0 if parent is None else 1 + depth(parent)

    complete = [t.number for t in study.trials if t.state.name == "COMPLETE"]
    return max(complete, key=depth)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--output-dir", default=str(HERE / "results" / "dashboard"))
    parser.add_argument("--wait", type=float, default=4.0, help="seconds to let a page render")
    parser.add_argument("--quick", action="store_true", help="8 trials (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials = 8
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lemonade-tour-") as tmp:
        directory = pathlib.Path(tmp)
        storage = run_search(directory, args.trials)
        study = optuna.load_study(study_name="lemonade-digits", storage=storage)
        study_id = compat.study_id(study)
        chosen = longest_lineage(study)
        log = output / "dashboard.log"
        pages: dict[str, dict[str, Any]] = {}
        with (
            dashboard(storage, directory / "checkpoints", log) as url,
            contextlib.closing(browser()) as driver,
        ):
            base = f"{url}/dashboard/studies/{study_id}"
            for name, page in (
                ("overview", base),
                ("trials", f"{base}/trials"),
                ("trial", f"{base}/trials?numbers={chosen}"),
                ("analytics", f"{base}/analytics"),
            ):
                pages[name] = visit(driver, page, output / f"dashboard_{name}.png", args.wait)
                print(
                    f"{name:9} {pages[name]['width']:5d} x {pages[name]['height']:5d} px  {page}"
                )
        server_log = log.read_text()
    problems = []
    for name, page in pages.items():
        if page["width"] > WIDTH:
            problems.append(f"{name}: {page['width']} px wide at {WIDTH} px")
    for needle in ("Traceback", "Error", " 500 "):
        if needle in server_log:
            problems.append(f"dashboard log has {needle!r} (see {log})")
    trial_text = pages["trial"]["text"]
    expectations = {
        "overview": ["error", "params", "Genealogy of", "lemonade_operator"],
        "trial": [f"Trial {chosen}", "Lineage", "architecture.svg", "lemonade_summary"],
    }
    for name, needles in expectations.items():
        for needle in needles:
            if needle not in pages[name]["text"]:
                problems.append(f"{name}: {needle!r} not on the page")
    summary = {
        "trials": args.trials,
        "trial_shown": chosen,
        "pages": {k: {kk: vv for kk, vv in v.items() if kk != "text"} for k, v in pages.items()},
        "server_errors": [line for line in server_log.splitlines() if "Error" in line][:20],
        "problems": problems,
        "trial_page_text": trial_text[:3000],
    }
    (output / "dashboard_tour.json").write_text(json.dumps(summary, indent=1) + "\n")
    for problem in problems:
        print("PROBLEM:", problem)
    print(f"wrote {output}", "(all checks passed)" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
