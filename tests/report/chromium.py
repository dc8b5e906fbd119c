"""Drive headless Chromium over the DevTools protocol through a pipe (``--remote-debugging-pipe``):
standard library only, no network, no websocket client.

Messages are JSON objects separated by NUL bytes on file descriptors 3 (to the browser) and 4
(from the browser). Used by the browser test of the policy brief and to take its screenshot.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

#: Chromium binaries looked for, in order (Debian's package installs ``chromium``).
BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"]


def find_chromium() -> str | None:
    return next((p for p in (shutil.which(b) for b in BINARIES) if p), None)


def _onto_3_and_4(read_fd: int, write_fd: int) -> None:
    """In the child: the command pipe on fd 3, the reply pipe on fd 4 (via high copies, so
    neither dup2 clobbers the other pipe)."""
    import fcntl

    r, w = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 10), fcntl.fcntl(write_fd, fcntl.F_DUPFD, 10)
    os.dup2(r, 3)
    os.dup2(w, 4)


class Browser:
    """One headless Chromium with a fresh profile; ``call`` sends a command to the page."""

    def __init__(self, binary: str, width: int = 1280, height: int = 1800, timeout: float = 60):
        self.profile = tempfile.mkdtemp(prefix="brief-chromium-")
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        # the browser reads commands on fd 3 and writes replies on fd 4
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=lambda: _onto_3_and_4(to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.timeout, self._id, self._buf, self.events = timeout, 0, b"", []
        targets = self._send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self._send("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    # -- protocol ---------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _send(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def call(self, method: str, **params) -> dict:
        return self._send(method, self.session, **params)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    # -- conveniences -----------------------------------------------------------------
    def open(self, path: Path) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=Path(path).resolve().as_uri())
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        out = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in out:
            raise RuntimeError(f"page script failed: {out['exceptionDetails']}")
        return out["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", **params)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def platform_fonts(self, selector: str) -> list[dict]:
        """For every element matching ``selector``: its text and the fonts that drew it
        (``CSS.getPlatformFontsForNode``: family name, whether it is a web font, glyph count)."""
        self.call("DOM.enable")
        self.call("CSS.enable")
        root = self.call("DOM.getDocument", depth=-1)["root"]["nodeId"]
        out = []
        for node in self.call("DOM.querySelectorAll", nodeId=root, selector=selector)["nodeIds"]:
            fonts = self.call("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]
            text = self.call("DOM.getOuterHTML", nodeId=node)["outerHTML"]
            out.append({"html": text, "fonts": fonts})
        return out

    def close(self) -> None:
        try:
            self._send("Browser.close")
        except Exception:  # noqa: BLE001 - the browser may already be gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
