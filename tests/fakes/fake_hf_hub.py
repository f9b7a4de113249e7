#!/usr/bin/python3
"""A stand-in for the Hugging Face Hub's resolve endpoint and its CDN.

Serves the files under --root (ROOT/<owner>/<name>/<path>) the way the Hub
serves dataset repositories, on two loopback listeners:

  hub  127.0.0.1:<port>   HEAD/GET /datasets/<owner>/<name>/resolve/<rev>/<path>
       302 to the CDN with X-Repo-Commit, X-Linked-Etag (the file's sha256),
       X-Linked-Size and ETag, as for an LFS file; 200 with the git blob id as
       ETag for a --direct repository (a small non-LFS file); 401/403
       X-Error-Code GatedRepo for a --gated repository without the --token;
       401 RepoNotFound (anonymous) or 404 RepoNotFound, 404 RevisionNotFound
       (a revision other than main and --commit), 404 EntryNotFound.
  cdn  127.0.0.2:<port> when that address binds, else 127.0.0.1:<another port>
       GET/HEAD /cdn/<owner>/<name>/<path>?X-Amz-Signature=...: the bytes, with
       a strong ETag, Range (bytes=N- and N-M, 206 + Content-Range, 416) and
       If-Range (a stale validator gets the whole file, 200). A request that
       carries an Authorization header is refused with 400, as S3 refuses a
       pre-signed URL with a second credential.

Failure switches, per repository: --wrong-bytes REPO serves other bytes of the
same length (the sha256 the hub announced no longer matches); --cut-once REPO
sends the headers and half the body of the first GET of each file, then drops
the connection (later GETs are whole, so a resume can finish).

Prints the hub's port on stdout (one line) once both listeners are up. With
--log FILE, appends one JSON line per request: server, method, path,
authorization (true/false), range, if_range, status.

Python 3 standard library only (tests/fakes/README.md).
"""
import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOG_LOCK = threading.Lock()
CUT_DONE = set()
CUT_LOCK = threading.Lock()
CDN_BASE = ""


def log(entry):
    if not ARGS.log:
        return
    with LOG_LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def repo_dir(repo):
    return os.path.join(ARGS.root, *repo.split("/"))


def read_file(repo, path):
    full = os.path.join(repo_dir(repo), *path.split("/"))
    if ".." in path.split("/") or not os.path.isfile(full):
        return None
    with open(full, "rb") as f:
        return f.read()


def git_blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name = "?"

    def log_message(self, fmt, *args):  # quiet: the JSON log says it all
        pass

    def answer(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.record(status)

    def record(self, status):
        log({"server": self.server_name, "method": self.command, "path": self.path,
             "authorization": "Authorization" in self.headers,
             "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range"),
             "status": status})

    def do_HEAD(self):
        self.handle_request()

    def do_GET(self):
        self.handle_request()


class HubHandler(Handler):
    server_name = "hub"

    def error(self, status, code, message):
        self.answer(status, {"X-Error-Code": code, "X-Error-Message": message},
                    json.dumps({"error": message}).encode())

    def handle_request(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")
        # ['', 'datasets', owner, name, 'resolve', rev, *path]
        if len(parts) < 7 or parts[1] != "datasets" or parts[4] != "resolve":
            self.error(404, "EntryNotFound", "not a resolve URL")
            return
        repo = parts[2] + "/" + parts[3]
        rev = urllib.parse.unquote(parts[5])
        path = urllib.parse.unquote("/".join(parts[6:]))
        auth = self.headers.get("Authorization")
        if not os.path.isdir(repo_dir(repo)):
            # The Hub does not tell anonymous callers whether a repo exists.
            self.error(401 if auth is None else 404, "RepoNotFound",
                       "Repository Not Found for url: " + self.path)
            return
        if repo in ARGS.gated and auth != "Bearer " + ARGS.token:
            if auth is None:
                self.error(401, "GatedRepo", "Access to dataset %s is restricted. You must "
                           "have access to it and be authenticated to access it." % repo)
            else:
                self.error(403, "GatedRepo", "Access to dataset %s is restricted and you are "
                           "not in the authorized list." % repo)
            return
        if rev not in ("main", ARGS.commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return
        data = read_file(repo, path)
        if data is None:
            self.error(404, "EntryNotFound", "Entry not found: " + path)
            return
        common = {"X-Repo-Commit": ARGS.commit}
        if repo in ARGS.direct:
            common["ETag"] = '"%s"' % git_blob_id(data)
            self.answer(200, common, data)
            return
        sha = hashlib.sha256(data).hexdigest()
        location = "%s/cdn/%s/%s?X-Amz-Signature=fake&X-Amz-Expires=3600" % (
            CDN_BASE, repo, urllib.parse.quote(path))
        common.update({"Location": location, "X-Linked-Etag": '"%s"' % sha,
                       "X-Linked-Size": str(len(data)), "ETag": '"%s"' % sha})
        self.answer(302, common)


class CdnHandler(Handler):
    server_name = "cdn"

    def handle_request(self):
        url = urllib.parse.urlsplit(self.path)
        if "Authorization" in self.headers:
            self.answer(400, {}, b"<Error><Code>InvalidArgument</Code><Message>Only one auth "
                                 b"mechanism allowed</Message></Error>")
            return
        if "X-Amz-Signature" not in urllib.parse.parse_qs(url.query):
            self.answer(403, {}, b"<Error><Code>AccessDenied</Code></Error>")
            return
        parts = url.path.split("/")  # ['', 'cdn', owner, name, *path]
        repo = "/".join(parts[2:4])
        path = urllib.parse.unquote("/".join(parts[4:]))
        data = read_file(repo, path) if len(parts) >= 5 else None
        if data is None:
            self.answer(404, {}, b"<Error><Code>NoSuchKey</Code></Error>")
            return
        if repo in ARGS.wrong_bytes:
            data = bytes(b ^ 0x20 for b in data)
        etag = '"%s"' % hashlib.md5(data).hexdigest()
        start, end = 0, len(data) - 1
        status = 200
        headers = {"ETag": etag, "Accept-Ranges": "bytes"}
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted and (if_range is None or if_range == etag):
            spec = wanted.replace("bytes=", "").split("-")
            start = int(spec[0])
            end = int(spec[1]) if spec[1] else len(data) - 1
            if start >= len(data):
                headers["Content-Range"] = "bytes */%d" % len(data)
                self.answer(416, headers)
                return
            end = min(end, len(data) - 1)
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
        body = data[start:end + 1]
        if self.command == "GET" and repo in ARGS.cut_once:
            key = (repo, path)
            with CUT_LOCK:
                first = key not in CUT_DONE
                CUT_DONE.add(key)
            if first:
                self.cut(status, headers, body)
                return
        self.answer(status, headers, body)

    def cut(self, status, headers, body):
        """Headers for the whole body, half of it, then a dropped connection."""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        self.record(status)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    global ARGS, CDN_BASE
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", required=True, help="ROOT/<owner>/<name>/<path>")
    p.add_argument("--commit", default="0123456789abcdef0123456789abcdef01234567")
    p.add_argument("--token", default="hf_fake_token", help="the token a gated repo accepts")
    p.add_argument("--gated", action="append", default=[], metavar="REPO")
    p.add_argument("--direct", action="append", default=[], metavar="REPO",
                   help="serve this repo's files from the hub itself (non-LFS)")
    p.add_argument("--wrong-bytes", action="append", default=[], metavar="REPO")
    p.add_argument("--cut-once", action="append", default=[], metavar="REPO")
    p.add_argument("--log", help="append one JSON line per request here")
    ARGS = p.parse_args()

    try:
        cdn = ThreadingHTTPServer(("127.0.0.2", 0), CdnHandler)
    except OSError:  # no 127.0.0.2 here: another port stands in for another host
        cdn = ThreadingHTTPServer(("127.0.0.1", 0), CdnHandler)
    cdn_host, cdn_port = cdn.server_address[:2]
    CDN_BASE = "http://%s:%d" % (cdn_host, cdn_port)
    hub = ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
    serve(cdn)
    serve(hub)
    print(hub.server_address[1], flush=True)
    print("fake_hf_hub: hub http://127.0.0.1:%d, cdn %s" % (hub.server_address[1], CDN_BASE),
          file=sys.stderr, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
