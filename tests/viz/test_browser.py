"""The dashboard in a real browser: JupyterLab 4 + Debian's Chromium, driven by Playwright.

Opens a copy of ``notebooks/01_quickstart.ipynb`` (so autosave never writes outputs into the repo),
runs all cells from the Run menu, checks that the dashboard widget rendered, moves the budget
slider one step down with the keyboard and checks that the recommendation changes, checks that the
recommendation's reason and its paired test agree and that the margin control works, times slider
moves in the browser's clock (key press → new recommendation text and new plot image;
``tests/artifacts/dashboard_timing.json``), then saves a screenshot (``<tmp>/dashboard.png`` and
``tests/artifacts/dashboard.png``).

Skipped when ``/usr/bin/chromium`` is absent (``apt-get install -y chromium``); never downloads a
browser (no ``playwright install``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = ROOT / "notebooks" / "01_quickstart.ipynb"
ARTIFACT = ROOT / "tests" / "artifacts" / "dashboard.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on 127.0.0.1 with a token, serving a scratch copy of notebook 01."""
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    config = tmp_path / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # render every cell (JupyterLab 4 otherwise virtualises cells scrolled out of view)
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    log = (tmp_path / "jupyter.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}", "--ServerApp.port_retries=0"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(tmp_path / 'jupyter.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield f"{base}/lab/tree/{NOTEBOOK.name}?token={token}", tmp_path
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started: our own group
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


def test_dashboard_in_jupyterlab(lab: tuple[str, Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    url, out_dir = lab
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(url)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            # the kernel must be up before "run all", or the first cells may be dropped
            try:  # older settings or a kernelspec mismatch can still ask which kernel to start
                page.locator(".jp-Dialog .jp-mod-accept").click(timeout=3_000)
            except sync_api.TimeoutError:
                pass
            page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator("[data-command='runmenu:run-all']").first.click()

            # the last cell's output means every cell ran
            try:
                page.wait_for_selector("text=decisions side by side", state="attached", timeout=180_000)
            except sync_api.TimeoutError:
                page.screenshot(path=str(out_dir / "timeout.png"), full_page=True)
                shutil.copy(out_dir / "timeout.png", ARTIFACT.with_name("timeout.png"))
                raise
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                  ":text('Traceback')")
            assert errors.count() == 0, "a cell raised: " + errors.first.inner_text()

            dash = page.locator(".jp-OutputArea-output:has(.routerlab-rec)").last
            dash.scroll_into_view_if_needed()
            rec = dash.locator(".routerlab-rec")
            sync_api.expect(rec).to_contain_text("Use ", timeout=30_000)
            before = rec.inner_text()
            chosen = _recommended(before)
            assert dash.locator(".widget-image img, img.widget-image, .widget-image").count() >= 1
            assert dash.locator(".routerlab-table").count() == 1

            slider = dash.locator(".widget-slider").first  # the budget slider
            readout = slider.locator(".widget-readout")
            start = readout.inner_text()
            handle = slider.locator(".noUi-handle")
            handle.focus()
            page.keyboard.press("ArrowLeft")
            moved = readout.inner_text()
            after = _wait_for_change(rec, before)
            detail = f"budget readout {start} -> {moved}\nbefore: {before}\nafter: {after}"
            assert float(moved) < float(start), detail
            # the default budget is the recommended strategy's own cost: one step down rules it out
            assert _recommended(after) not in (None, chosen), detail
            table = dash.locator(".routerlab-table").inner_text()
            assert "> budget" in table and chosen in table, table

            # issue 16: the reason names the quality the choice may lose, and the paired test beside it is
            # the same test (its lower bound appears in both, or the reason says no cheaper one qualifies)
            text = rec.inner_text()
            assert "Paired test:" in text and "α = 0.05" in text, text
            bound = re.search(r"lower bound ([-+]\d\.\d{3})", text)
            assert bound is not None, text
            lose = f"{max(0.0, -float(bound.group(1))):.3f}"
            assert f"may lose up to {lose}" in text, text
            # the margin is a control: widening it can only make the choice cheaper or keep it
            margin = dash.locator(".widget-slider").nth(3)
            assert "margin" in margin.inner_text().lower()
            margin.locator(".noUi-handle").focus()
            for _ in range(4):
                page.keyboard.press("ArrowRight")
            sync_api.expect(rec).to_contain_text("margin 0.040", timeout=30_000)  # all four steps applied

            timings = _slider_timings(page, dash, moves=24)
            (out_dir / "timing.json").write_text(json.dumps(timings, indent=1))
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(out_dir / "timing.json", ARTIFACT.with_name("dashboard_timing.json"))
            assert timings["redrawn"] == timings["moves"], timings

            shot = out_dir / "dashboard.png"
            dash.screenshot(path=str(shot))
            shutil.copy(shot, ARTIFACT)
        finally:
            browser.close()


_OBSERVE = """([root]) => {
  window.__marks = [];
  const rec = root.querySelector('.routerlab-rec');
  const img = root.querySelector('.widget-image img, img.widget-image');
  const mark = (what) => window.__marks.push([what, performance.now()]);
  new MutationObserver(() => mark('rec')).observe(rec.parentElement, {subtree: true, childList: true,
                                                                     characterData: true});
  new MutationObserver(() => mark('img')).observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def _slider_timings(page: object, dash: object, moves: int) -> dict[str, object]:
    """Move the budget slider ``moves`` times (alternately left and right, one step each) and take, in the
    browser's clock, the time from the key press to the new recommendation text and the new plot image
    (the later of the two). Returns the timings in ms with their p50 / p95."""
    import statistics

    handle = dash.locator(".widget-slider").first.locator(".noUi-handle")  # type: ignore[attr-defined]
    dash.evaluate(_OBSERVE.replace("([root])", "(root)"))  # type: ignore[attr-defined]
    handle.focus()
    took: list[float] = []
    for i in range(moves):
        page.evaluate("window.__marks = []; window.__t0 = performance.now()")  # type: ignore[attr-defined]
        page.keyboard.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")  # type: ignore[attr-defined]
        try:
            page.wait_for_function("new Set(window.__marks.map(m => m[0])).size == 2",  # type: ignore[attr-defined]
                                   timeout=15_000)
        except Exception:  # noqa: BLE001 - a missed redraw is counted, not hidden
            continue
        time.sleep(0.05)  # let the last mutation of this move land before the next press
        marks = page.evaluate("window.__marks.map(m => [m[0], m[1] - window.__t0])")  # type: ignore[attr-defined]
        took.append(max(max(t for w, t in marks if w == k) for k in ("rec", "img")))
    took.sort()
    p95 = took[min(len(took) - 1, int(round(0.95 * (len(took) - 1))))] if took else float("nan")
    return {"moves": moves, "redrawn": len(took), "ms": [round(t, 1) for t in took],
            "p50_ms": round(statistics.median(took), 1) if took else None, "p95_ms": round(p95, 1),
            "load_average": list(os.getloadavg())}


def _recommended(text: str) -> str | None:
    m = re.search(r"Use (\S+?):", text)
    return m.group(1) if m else None


def _wait_for_change(locator: object, before: str, timeout: float = 30.0) -> str:
    """The locator's text once it differs from ``before`` (the kernel recomputes and redraws)."""
    deadline = time.monotonic() + timeout
    text = locator.inner_text()  # type: ignore[attr-defined]
    while text == before and time.monotonic() < deadline:
        time.sleep(0.2)
        text = locator.inner_text()  # type: ignore[attr-defined]
    return text
