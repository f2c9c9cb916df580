# SPDX-License-Identifier: GPL-3.0-or-later
"""cmee-server's static files (examples/server/static.c, docs/web.md): the page at "/", its
files under "/web/", content types, no directory listing, and no way out of the web root."""
import http.client
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import server_harness  # noqa: E402

WEB_ROOT = os.path.realpath(os.environ.get(
    "CMEE_WEB_ROOT", os.path.join(HERE, "..", "..", "examples", "web")))


def raw_get(port, path, method="GET"):
    """(status, headers, body) for @p path sent exactly as given; status 0 if the server
    closed the connection without an answer."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        c.endheaders()
        r = c.getresponse()
        return r.status, r.headers, r.read()
    except (http.client.HTTPException, ConnectionError):
        return 0, {}, b""
    finally:
        c.close()


def web_files():
    """Contents of every file under the web root."""
    out = set()
    for d, _, names in os.walk(WEB_ROOT):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                out.add(f.read())
    return out


class Static(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = server_harness.Server(extra=["--web", WEB_ROOT])

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def get(self, path, method="GET"):
        return raw_get(self.srv.port, path, method)

    def test_root_is_the_page(self):
        st, h, body = self.get("/")
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(h["X-Content-Type-Options"], "nosniff")
        with open(os.path.join(WEB_ROOT, "index.html"), "rb") as f:
            self.assertEqual(body, f.read())

    def test_content_types(self):
        for path, ctype in [("/web/app.js", "text/javascript; charset=utf-8"),
                            ("/web/indicators.js", "text/javascript; charset=utf-8"),
                            ("/web/style.css", "text/css; charset=utf-8"),
                            ("/web/vendor/LICENSE", "text/plain; charset=utf-8"),
                            ("/web/vendor/README.md", "text/plain; charset=utf-8"),
                            ("/web/vendor/lightweight-charts.standalone.production.js",
                             "text/javascript; charset=utf-8")]:
            with self.subTest(path=path):
                st, h, body = self.get(path)
                self.assertEqual(st, 200)
                self.assertEqual(h["Content-Type"], ctype)
                with open(os.path.join(WEB_ROOT, path[5:]), "rb") as f:
                    self.assertEqual(body, f.read())

    def test_every_url_of_the_page_is_served(self):
        with open(os.path.join(WEB_ROOT, "index.html"), encoding="utf-8") as f:
            refs = re.findall(r'(?:src|href)="(web/[^"]+)"', f.read())
        self.assertGreaterEqual(len(refs), 3)
        for ref in refs:
            with self.subTest(ref=ref):
                self.assertEqual(self.get("/" + ref)[0], 200)

    def test_no_directory_listing(self):
        for path in ("/web", "/web/", "/web/vendor", "/web/vendor/", "/web/nosuch.js"):
            with self.subTest(path=path):
                st, h, body = self.get(path)
                self.assertEqual(st, 404)
                self.assertIn(b'"not_found"', body)

    def test_no_way_out_of_the_root(self):
        served = web_files()
        for path in ["/web/../meson.build", "/web/..%2fmeson.build", "/web/%2e%2e/meson.build",
                     "/web/%2e%2e%2f%2e%2e%2fmeson.build", "/web/.%2e/.%2e/meson.build",
                     "/web/..\\..\\meson.build", "/web/..%5c..%5cmeson.build",
                     "/web/%252e%252e/%252e%252e/meson.build", "/web/index.html%00.png",
                     "/web/app.js%00", "/web/%00", "/web/.hidden", "/web/./app.js",
                     "/web/vendor/../../server/static.c", "/web/%2fetc%2fpasswd",
                     "/web//etc/passwd", "//etc/passwd", "/web/%c0%ae%c0%ae/meson.build",
                     "/../examples/web/app.js", "/web/app.js/", "/web/app.js/..",
                     "/web/" + "a/" * 200 + "x"]:
            with self.subTest(path=path):
                st, _, body = self.get(path)
                # Either refused, or one of the web root's own files (a path that
                # normalises to one, like /web/./app.js).
                if st == 200:
                    self.assertIn(body, served)
                else:
                    self.assertIn(st, (0, 400, 404, 414))

    def test_symlink_out_of_the_root(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "web")
            os.mkdir(root)
            with open(os.path.join(tmp, "secret.txt"), "w") as f:
                f.write("secret")
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write("<p>hi</p>")
            os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(root, "leak.txt"))
            os.symlink(tmp, os.path.join(root, "up"))
            with server_harness.Server(extra=["--web", root]) as srv:
                self.assertEqual(raw_get(srv.port, "/")[2], b"<p>hi</p>")
                for path in ("/web/leak.txt", "/web/up/secret.txt"):
                    with self.subTest(path=path):
                        self.assertEqual(raw_get(srv.port, path)[0], 404)

    def test_only_get(self):
        for path in ("/", "/web/app.js"):
            with self.subTest(path=path):
                st, h, body = self.get(path, "POST")
                self.assertEqual(st, 405)
                self.assertEqual(h["Allow"], "GET")

    def test_api_unchanged(self):
        self.assertEqual(self.get("/api/health")[0], 200)
        st, _, body = self.get("/nosuch")
        self.assertEqual(st, 404)
        self.assertIn(b"no such endpoint", body)

    def test_missing_web_root_is_an_error(self):
        p = subprocess.run([server_harness.SERVER, "--port", "0", "--db", ":memory:",
                            "--web", "/nonexistent/cmee-web"], capture_output=True, text=True,
                           timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--web", p.stderr)


if __name__ == "__main__":
    unittest.main()
