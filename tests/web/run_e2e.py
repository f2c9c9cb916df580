# SPDX-License-Identifier: GPL-3.0-or-later
"""The web page end to end (docs/web.md): cmee-server on a free loopback port with a temporary
store, e2e.mjs driving Debian's chromium through playwright-core, one unittest case per check of
the script (so the CI summary counts them).

playwright-core is installed with npm, at the version pinned in package.json, into a cache
directory outside the repository ($CMEE_WEB_CACHE, else $XDG_CACHE_HOME/cmee-web, else
~/.cache/cmee-web) when it is not there yet. Everything skips when node, npm or chromium is
missing, or when that install fails (no registry). The screenshot and the results go to
$CMEE_WEB_ARTIFACTS (the build directory's tests/web).

run_e2e_gateway.py runs the same script through the gateway with the helpers of this file
(prepare, run_script, add_checks)."""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import server_harness  # noqa: E402

# The checks of e2e.mjs, in its order: a check the script did not report fails.
CHECKS = [
    "page_loads", "candles_render", "last_price_moves", "indicator_pane",
    "signals_unavailable_without_gateway", "unknown_symbol_shows_server_error",
    "session_create", "market_order", "empty_stake_shows_server_error",
    "crash_preset_drops_price", "call_option_settles", "screenshot", "no_page_errors",
    "same_origin_only",
]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WEB_ROOT = os.environ.get("CMEE_WEB_ROOT", os.path.join(HERE, "..", "..", "examples", "web"))
ARTIFACTS = os.environ.get("CMEE_WEB_ARTIFACTS") or tempfile.gettempdir()


def cache_dir():
    if os.environ.get("CMEE_WEB_CACHE"):
        return os.environ["CMEE_WEB_CACHE"]
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "cmee-web")


def pinned_version():
    with open(os.path.join(HERE, "package.json"), encoding="utf-8") as f:
        return json.load(f)["dependencies"]["playwright-core"]


def ensure_playwright(cache):
    """Installs the pinned playwright-core into @p cache if needed; None or why it could not."""
    want = pinned_version()
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two build directories testing at once
        installed = os.path.join(cache, "node_modules", "playwright-core", "package.json")
        try:
            with open(installed, encoding="utf-8") as f:
                if json.load(f)["version"] == want:
                    return None
        except (OSError, ValueError, KeyError):
            pass
        shutil.copy(os.path.join(HERE, "package.json"), os.path.join(cache, "package.json"))
        # --ignore-scripts: playwright-core downloads nothing itself; we use Debian's chromium.
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"],
                           cwd=cache, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=300)
        if p.returncode != 0:
            return "npm install playwright-core@%s failed: %s" % (want, p.stderr.strip()[-400:])
    return None


def prepare():
    """Skips (unittest.SkipTest) without node, npm, chromium or playwright-core; else the
    directory holding node_modules/playwright-core."""
    for prog in ("node", "npm"):
        if not shutil.which(prog):
            raise unittest.SkipTest("%s is not installed (apt-get install nodejs npm)" % prog)
    if not os.access(CHROMIUM, os.X_OK):
        raise unittest.SkipTest("%s is not installed (apt-get install chromium)" % CHROMIUM)
    cache = cache_dir()
    why = ensure_playwright(cache)
    if why:
        raise unittest.SkipTest(why)
    return cache


def run_script(cache, base, name, env=None):
    """Runs e2e.mjs against @p base; the results and screenshot are ARTIFACTS/@p name-results.json
    and @p name-screenshot.png. Returns ({check: result}, why there are none or None)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    results = os.path.join(ARTIFACTS, name + "-results.json")
    shot = os.path.join(ARTIFACTS, name + "-screenshot.png")
    for path in (results, shot):
        if os.path.exists(path):
            os.unlink(path)
    env = dict(os.environ, CMEE_ADMIN_TOKEN=server_harness.ADMIN_TOKEN, CHROMIUM=CHROMIUM,
               **(env or {}))
    # An ES module finds its imports next to itself: run a copy beside node_modules (one per
    # process, so two variants running at once do not overwrite each other's copy).
    script = os.path.join(cache, "e2e-%d.mjs" % os.getpid())
    shutil.copy(os.path.join(HERE, "e2e.mjs"), script)
    try:
        p = subprocess.run(["node", script, base, results, shot], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=240)
    finally:
        os.unlink(script)
    sys.stderr.write(p.stdout)
    sys.stderr.write(p.stderr)
    try:
        with open(results, encoding="utf-8") as f:
            return {r["name"]: r for r in json.load(f)}, None
    except (OSError, ValueError):
        return {}, "e2e.mjs wrote no results (exit %d): %s" % (p.returncode, p.stderr[-800:])


class E2E:
    """Mixed into a TestCase: one case per name of @c checks (added by add_checks); the
    class's setUpClass fills @c results (or @c failure)."""
    checks = CHECKS
    results = {}
    failure = None

    def result(self, name):
        if name not in self.results:
            self.fail(self.failure or "e2e.mjs did not report %s" % name)
        r = self.results[name]
        self.assertTrue(r["ok"], "%s: %s" % (name, r["message"]))

    def test_reports_every_check(self):
        if self.results:
            self.assertEqual(sorted(self.results), sorted(self.checks))


def add_checks(cls):
    """Adds test_NN_<check> to @p cls for each of its checks."""
    def add(i, name):
        setattr(cls, "test_%02d_%s" % (i, name), lambda self: self.result(name))
    for i, name in enumerate(cls.checks):
        add(i, name)
    return cls


@add_checks
class WebPage(E2E, unittest.TestCase):
    """cmee-server alone: the page at its own port."""

    @classmethod
    def setUpClass(cls):
        cache = prepare()
        with server_harness.Server(extra=["--web", WEB_ROOT]) as srv:
            cls.results, cls.failure = run_script(cache, srv.base, "e2e")


if __name__ == "__main__":
    unittest.main()
