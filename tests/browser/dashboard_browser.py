#!/usr/bin/env python3
"""Drives Debian's chromium (headless) through cohortd's dashboard.

Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4), so
the script needs nothing beyond the standard library. It signs in through
the page's own form, loads each page of a finished campaign, checks that
the page shows the numbers `cohort` printed for it (EXPECT, a JSON file
written by dashboard_browser_test.sh), saves a full-page screenshot of
each, and fails on any console error, uncaught exception, failed request
or CSP violation.

With --live it instead watches one campaign's page while the campaign runs:
the page is opened before any worker starts (READY_FILE is written then, so
the caller starts them), and without navigating again it must show the
campaign at 0 done, then partly done, then succeeded: the page follows the
event stream by itself.

usage: dashboard_browser.py URL TOKEN EXPECT.json SCREENSHOT_DIR
       dashboard_browser.py --live URL TOKEN CAMPAIGN SCREENSHOT_DIR READY_FILE
"""
import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, profile_dir):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise SystemExit("chromium not found (Debian package chromium)")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        args = [binary, "--headless", "--remote-debugging-pipe", "--no-sandbox",
                "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--hide-scrollbars", "--window-size=1280,900",
                "--user-data-dir=" + profile_dir, "about:blank"]

        def wire_fds():
            # The child reads commands on fd 3 and writes replies on fd 4;
            # copies above 9 first, so neither pipe end is overwritten early.
            r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.process = subprocess.Popen(args, pass_fds=(), preexec_fn=wire_fds,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.time() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def attach(self):
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        text = self.evaluate("document.getElementById('main').innerText")
        raise AssertionError(f"{what}: not shown within {timeout} s; the page says:\n{text}")

    def screenshot(self, path):
        # The whole page, not the window: size the viewport to the content.
        metrics = self.call("Page.getLayoutMetrics")
        height = int(metrics["cssContentSize"]["height"]) + 1
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": max(600, min(height, 6000)),
                   "deviceScaleFactor": 1, "mobile": False})
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        self.call("Emulation.clearDeviceMetricsOverride")

    def errors(self):
        """Console errors, exceptions, failed loads and CSP violations so far."""
        self.call("Runtime.evaluate", {"expression": "1"})  # drain pending events
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                    for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:400])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append("log: " + params["entry"].get("text", ""))
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                found.append("request failed: " + params.get("errorText", ""))
            elif method == "Network.responseReceived":
                status = params["response"]["status"]
                url = params["response"]["url"]
                if status >= 400:
                    found.append(f"HTTP {status}: {url}")
        return found

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextlib.contextmanager
def browsing():
    """Headless chromium attached to its page; leaving the block fails on any
    error the browser reported, and closes it either way."""
    profile = tempfile.mkdtemp(prefix="cohort-chromium-")
    browser = Browser(profile)
    try:
        browser.attach()
        yield browser
        errors = browser.errors()
        if errors:
            raise AssertionError("the browser reported:\n  " + "\n  ".join(errors))
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def text_of(browser, selector):
    return browser.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
        f"return e ? e.innerText : ''; }})()")


def expect_in(text, needles, page):
    missing = [n for n in needles if n not in text]
    if missing:
        raise AssertionError(f"{page}: {missing} not on the page; it says:\n{text}")


def sign_in(browser, url, token, shots):
    """Signs in through the page's own form (the sign-in page's screenshot
    goes to `shots` when given)."""
    browser.call("Page.navigate", {"url": url + "/"})
    browser.wait_for("!!document.querySelector('form.login')", "the sign-in form")
    if shots:
        browser.screenshot(os.path.join(shots, "signin.png"))
    # The 401s behind the sign-in form are expected; nothing else may fail.
    browser.events = [e for e in browser.events
                      if not (e.get("method") == "Network.responseReceived"
                              and e["params"]["response"]["status"] == 401)
                      and not (e.get("method") == "Log.entryAdded"
                               and "401" in e["params"]["entry"].get("text", ""))]
    browser.evaluate(
        "document.querySelector('form.login input').value = " + json.dumps(token) + ";"
        "document.querySelector('form.login').requestSubmit(); true")
    browser.wait_for("!!document.getElementById('campaigns')", "the campaigns table")


# The campaign page's header (state, done/total) and its running steps, as
# the page shows them now.
CAMPAIGN_STATE = """(() => {
  const head = document.querySelector('#main h1 + div.flex');
  const running = document.querySelectorAll('#running tr');
  return head ? {head: head.innerText, running: Math.max(0, running.length - 1),
                 text: document.getElementById('main').innerText} : null;
})()"""


def live(url, token, campaign, shots, ready_file, timeout=240):
    with browsing() as browser:
        sign_in(browser, url, token, None)
        browser.call("Page.navigate", {"url": f"{url}/#/c/{campaign}"})
        browser.wait_for("!!document.querySelector('#grid')", "the campaign's grid")
        first = browser.evaluate(CAMPAIGN_STATE)
        match = re.search(r"(\d+)/(\d+)", first["head"])
        if "running" not in first["head"] or not match or match.group(1) != "0":
            raise AssertionError(f"before any worker: expected running at 0 done:\n{first['text']}")
        total = int(match.group(2))
        with open(ready_file, "w") as f:
            f.write("open\n")
        seen_partial = seen_running = False
        deadline = time.time() + timeout
        while True:
            now = browser.evaluate(CAMPAIGN_STATE)
            done = re.search(r"(\d+)/(\d+)", now["head"]) if now else None
            if done and 0 < int(done.group(1)) < total:
                seen_partial = True
            if now and now["running"] > 0 and not seen_running:
                seen_running = True
                if "local-" not in now["text"]:
                    raise AssertionError(f"a running step without its worker:\n{now['text']}")
                browser.screenshot(os.path.join(shots, "campaign-running.png"))
            if now and "succeeded" in now["head"] and f"{total}/{total}" in now["head"]:
                break
            if time.time() > deadline:
                raise AssertionError(f"not succeeded within {timeout} s without a reload; "
                                     f"the page says:\n{now and now['text']}")
            time.sleep(0.1)
        if not seen_partial:
            raise AssertionError("the page went from 0 to all done without showing progress")
    print(f"dashboard_browser: the campaign page followed the run by itself "
          f"(0 -> partly done -> {total}/{total} succeeded; a running step "
          f"{'shown' if seen_running else 'not caught between reloads'})")


def main():
    if sys.argv[1] == "--live":
        live(*sys.argv[2:7])
        return
    url, token, expect_path, shots = sys.argv[1:5]
    with open(expect_path) as f:
        expect = json.load(f)
    os.makedirs(shots, exist_ok=True)
    campaign = expect["campaign"]
    checked = []
    with browsing() as browser:
        # Not signed in: the sign-in form; the page's own form signs in.
        sign_in(browser, url, token, shots)

        pages = [
            ("campaigns", "#/", "#campaigns", expect["campaigns_text"]),
            ("campaign", f"#/c/{campaign}", "#grid", expect["grid_text"]),
            ("scoreboard", f"#/c/{campaign}/scoreboard?ref={expect['ref']}", "#scoreboard",
             expect["scoreboard_text"]),
            ("lengths", f"#/c/{campaign}/lengths?suite={expect['suite']}", "#lengths",
             expect["lengths_text"]),
            ("compare", f"#/c/{campaign}/compare?a={expect['a']}&b={expect['b']}"
                        f"&suite={expect['suite']}&problem={expect['problem']}",
             "#side-by-side", expect["compare_text"]),
            ("workers", "#/workers", "#workers", expect["workers_text"]),
        ]
        for name, fragment, selector, needles in pages:
            browser.call("Page.navigate", {"url": url + "/" + fragment})
            browser.wait_for(f"!!document.querySelector({json.dumps(selector)})", name)
            # Plots: every <img> on the page has loaded.
            browser.wait_for("[...document.images].every(i => i.complete && i.naturalWidth > 0)",
                             name + " plots")
            expect_in(text_of(browser, "main"), needles, name)
            browser.screenshot(os.path.join(shots, name + ".png"))
            checked.append(name)
    print(f"dashboard_browser: {len(checked)} pages checked ({', '.join(checked)}), "
          f"screenshots in {shots}")


if __name__ == "__main__":
    main()
