"""Load a report in headless Chromium, offline, and say what it drew.

    result = load_in_chromium(Path("runs/x/report.html"), screenshot=Path("shot.png"))
    result.errors, result.render_s, result.svg_count, result.markers

Used by the browser test and by `python -m runner.bench.report`. Chromium (Debian's
`chromium` package) is driven through the DevTools protocol over its websocket
(`websockets`), with no selenium or playwright. The network is off twice over: every
request is sent to a dead proxy (`--proxy-server=127.0.0.1:9`) and the page's network
is emulated offline, so a page that needed the network would fail here. Console
errors, uncaught exceptions and error log entries are collected. `render_s` is from
navigation to the page's `data-ready` mark (every chart drawn).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from base64 import b64decode
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_PROBE = """(() => {
  const svgs = Array.from(document.querySelectorAll('.main-svg'));
  const drawn = svgs.filter(s => s.querySelector('path, rect, text') !== null).length;
  const canvases = Array.from(document.querySelectorAll('canvas'))
    .filter(c => c.width > 0 && c.height > 0).length;
  let markers = 0, figures = 0;
  document.querySelectorAll('.js-plotly-plot').forEach(gd => {
    figures += 1;
    (gd.data || []).forEach(t => {
      if (t.name === 'entries' || t.name === 'exits') markers += (t.x || []).length;
    });
  });
  const points = document.querySelectorAll('.scatterlayer .point').length;
  return JSON.stringify({svgs: svgs.length, drawn, canvases, markers, figures, points,
    rows: document.querySelectorAll('table.sortable tbody tr').length,
    timings: window.reportTimings || {}});
})()"""


def find_chromium() -> str | None:
    """The path of a Chromium-like browser, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageResult:
    """What a page load showed."""

    render_s: float
    errors: list[str] = field(default_factory=list)
    svg_count: int = 0
    drawn_svgs: int = 0
    canvases: int = 0
    figures: int = 0
    markers: int = 0
    table_rows: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds from navigation: `script` (plotly.js loaded, the page's script
    starts), `ready`; and per figure id the time its drawing took."""


class _Session:
    """A minimal DevTools client: one browser websocket, one attached page session."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.session: str | None = None
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method,
                                   "params": params or {}}
        if self.session is not None:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method} in {timeout} s")
            reply = json.loads(self.ws.recv(timeout=left))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True})
        return result.get("result", {}).get("value")



def _errors(events: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append("exception: " + str(details.get("exception", {}).get(
                "description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                 for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
    return found


def _wait_port(profile: Path, process: subprocess.Popen[bytes], timeout: float) -> str:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.is_file():
            lines = marker.read_text().split("\n")
            if len(lines) >= 2 and lines[1]:
                return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with code {process.returncode}")
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


def load_in_chromium(page: Path, *, screenshot: Path | None = None,
                     chromium: str | None = None, timeout: float = 120.0,
                     width: int = 1400, height: int = 1000) -> PageResult:
    """Open `page` (a local file) offline in headless Chromium, wait until every chart
    is drawn, and report errors, timing and what was drawn; save a PNG screenshot of
    the whole page to `screenshot` when given."""
    binary = chromium or find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium binary found")
    with tempfile.TemporaryDirectory(prefix="runner-chromium-") as tmp:
        profile = Path(tmp)
        process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update",
             "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--remote-debugging-port=0", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return _drive(_wait_port(profile, process, 30.0), page, screenshot=screenshot,
                          timeout=timeout, width=width, height=height)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _drive(url: str, page: Path, *, screenshot: Path | None, timeout: float, width: int,
           height: int) -> PageResult:
    from websockets.sync.client import connect

    with connect(url, max_size=256 * 1024 * 1024, open_timeout=20) as ws:
        session = _Session(ws)
        target = session.call("Target.createTarget", {"url": "about:blank"})
        attached = session.call("Target.attachToTarget",
                                {"targetId": target["targetId"], "flatten": True})
        session.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            session.call(f"{domain}.enable")
        session.call("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1,
            "uploadThroughput": -1})
        session.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        started = time.monotonic()
        session.call("Page.navigate", {"url": page.resolve().as_uri()})
        while True:
            state = session.evaluate(
                "document.body ? document.body.getAttribute('data-ready') : null")
            if state == "1":
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the page did not finish drawing in {timeout} s")
            if _errors(session.events):
                break
            time.sleep(0.02)
        render_s = time.monotonic() - started
        probe = json.loads(session.evaluate(_PROBE) or "{}")
        if screenshot is not None:
            shot = session.call("Page.captureScreenshot",
                                {"format": "png", "captureBeyondViewport": True})
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(b64decode(shot["data"]))
        session.call("Runtime.evaluate", {"expression": "1"})  # flush late events
        return PageResult(render_s=render_s, errors=_errors(session.events),
                          svg_count=int(probe.get("svgs", 0)),
                          drawn_svgs=int(probe.get("drawn", 0)),
                          canvases=int(probe.get("canvases", 0)),
                          figures=int(probe.get("figures", 0)),
                          markers=int(probe.get("markers", 0)),
                          table_rows=int(probe.get("rows", 0)),
                          timings={k: round(float(v), 1) for k, v in
                                   (probe.get("timings") or {}).items()})


__all__ = ["PageResult", "find_chromium", "load_in_chromium"]
