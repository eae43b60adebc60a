"""A tiny headless-Chromium driver over the Chrome DevTools Protocol, for UI tests.

Only what the tests need: open a page, fill and submit forms like a person, read the page, take
a screenshot. Each navigation is awaited by planting a marker on ``window`` before the action and
waiting until a new, fully loaded document no longer has it.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_BIN", ""), *CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """``app`` served by a threaded WSGI server on a loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def keep(path: Path) -> Path:
    """A screenshot stays in the test's output folder, and is copied to INTAKE_UI_SCREENSHOTS."""
    extra = os.environ.get("INTAKE_UI_SCREENSHOTS")
    if extra:
        shutil.copy(path, Path(extra) / path.name)
    return path


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, executable: str, profile: Path, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = self._read_port(profile / "DevToolsActivePort")
            self._ws = websocket.create_connection(self._page_url(port), timeout=timeout)
            self.send("Page.enable")
            self.send("Runtime.enable")
        except BaseException:
            self.close()
            raise

    def _read_port(self, path: Path) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrowserError(f"chromium exited with status {self._process.returncode}")
            if path.is_file():
                lines = path.read_text().splitlines()
                if lines and lines[0].isdigit():
                    return int(lines[0])
            time.sleep(0.05)
        raise BrowserError("chromium did not open its DevTools port within 30 s")

    def _page_url(self, port: int) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.05)
        raise BrowserError("chromium opened no page")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv())
            if reply.get("id") != message_id:
                continue  # an event
            if "error" in reply:
                raise BrowserError(f"{method}: {reply['error']}")
            result: dict[str, Any] = reply.get("result", {})
            return result

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            reason = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{reason} (in {expression})")
        return result["result"].get("value")

    def _wait_for_new_page(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(
                    "window.__testMarker === undefined && document.readyState === 'complete'"
                ):
                    return
            except BrowserError:
                pass  # the old document went away mid-evaluation
            time.sleep(0.03)
        raise BrowserError(f"no new page loaded within {self.timeout} s")

    def _navigating(self, action: str) -> None:
        self.evaluate("window.__testMarker = 1")
        self.evaluate(action)
        self._wait_for_new_page()

    def open(self, url: str) -> None:
        self.evaluate("window.__testMarker = 1")
        self.send("Page.navigate", url=url)
        self._wait_for_new_page()

    def fill(self, selector: str, value: str) -> None:
        self.evaluate(
            f"(() => {{ const e = {self._find(selector)}; e.value = {json.dumps(value)};"
            " e.dispatchEvent(new Event('input', {bubbles: true}));"
            " e.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )

    def click(self, selector: str) -> None:
        """Click something that loads a new page (a link or a submit button)."""
        self._navigating(f"{self._find(selector)}.click()")

    def text(self, selector: str = "body") -> str:
        return str(self.evaluate(f"{self._find(selector)}.innerText"))

    def count(self, selector: str) -> int:
        return int(self.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length"))

    @property
    def url(self) -> str:
        return str(self.evaluate("location.href"))

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(data["data"]))
        return keep(path)

    def _find(self, selector: str) -> str:
        quoted = json.dumps(selector)
        return (
            f"(document.querySelector({quoted}) ?? "
            f"(() => {{ throw new Error('nothing matches ' + {quoted}); }})())"
        )

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
