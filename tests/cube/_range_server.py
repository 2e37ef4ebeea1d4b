"""A static file server with HTTP byte ranges on 127.0.0.1, for remote-read tests.

Usage: ``python _range_server.py ROOT LOG [NAME ...]``. Prints its port on
the first line of stdout, appends one JSON line per request to LOG (method,
path, range, whether it carries an AWS signature), and answers the first
request for each file NAME with a 503 (a provider's hiccup). Signatures are
not checked: as an S3 endpoint it serves path-style ``/bucket/key`` from
``ROOT/bucket/key``. It runs in its own process: rasterio holds the GIL
while GDAL waits for a response, so a server thread in the test's process
would never get to answer.
"""

from __future__ import annotations

import http.server
import json
import re
import sys
from pathlib import Path


class Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    log: Path
    fail_first: set[str]

    def log_message(self, *_args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _reply(self, code: int, data: bytes = b"", headers: dict | None = None) -> None:
        """Status, headers and Content-Length of ``data``; the body only for GET."""
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)

    def _serve(self) -> None:
        wanted = self.headers.get("Range")
        with self.log.open("a") as f:
            signed = self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256")
            f.write(json.dumps([self.command, self.path, wanted, signed]) + "\n")
        path = (self.root / self.path.split("?")[0].lstrip("/")).resolve()
        if not path.is_file() or self.root not in path.parents:
            return self._reply(404)
        if path.name in self.fail_first:
            self.fail_first.discard(path.name)
            return self._reply(503)
        data = path.read_bytes()
        headers = {"Accept-Ranges": "bytes"}
        if wanted is None:
            return self._reply(200, data, headers)
        first, last = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted).groups()
        start, stop = int(first), min(int(last or len(data) - 1), len(data) - 1)
        headers["Content-Range"] = f"bytes {start}-{stop}/{len(data)}"
        return self._reply(206, data[start : stop + 1], headers)


def main() -> None:
    Handler.root = Path(sys.argv[1]).resolve()
    Handler.log = Path(sys.argv[2])
    Handler.fail_first = set(sys.argv[3:])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
