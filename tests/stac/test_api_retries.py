"""STAC API searches ride out throttling and server errors, and give up with the status.

A small STAC API on 127.0.0.1 answers its first searches with the errors a
busy public API sends (429, 502, 503) and then with a real published item.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import shape

from geomm.aoi import aoi_from_geojson
from geomm.errors import SearchError
from geomm.stac import _search, search

ITEM = json.loads(
    (
        Path(__file__).resolve().parents[1]
        / "data/stac/planetary-computer/sentinel-2-l2a"
        / "S2A_MSIL2A_20240823T174901_R141_T13TDE_20240824T013055.json"
    ).read_text()
)


GEOJSON = "application/geo+json"


class _Api(http.server.BaseHTTPRequestHandler):
    failures: list[int] = []
    """Statuses to answer the next searches with, in order; then the item."""
    searches: list[str] = []

    def log_message(self, *_args) -> None:
        pass

    def _json(self, code: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/search"):
            return self._search()
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self._json(
            200,
            {
                "type": "Catalog",
                "id": "flaky",
                "description": "a STAC API that is busy at first",
                "stac_version": "1.0.0",
                "conformsTo": [
                    "https://api.stacspec.org/v1.0.0/core",
                    "https://api.stacspec.org/v1.0.0/item-search",
                ],
                "links": [
                    {"rel": "self", "href": base},
                    {"rel": "root", "href": base},
                    {"rel": "search", "href": f"{base}/search", "method": "GET", "type": GEOJSON},
                    {"rel": "search", "href": f"{base}/search", "method": "POST", "type": GEOJSON},
                ],
            },
        )

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._search()

    def _search(self) -> None:
        self.searches.append(self.command)
        if self.failures:
            code = self.failures.pop(0)
            return self._json(code, {"code": str(code)}, {"Retry-After": "0"})
        return self._json(200, {"type": "FeatureCollection", "features": [ITEM], "links": []})


@pytest.fixture
def flaky_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Api]]:
    monkeypatch.setattr(_search, "API_BACKOFF", 0.0)  # the same retries, without the pauses
    _Api.failures, _Api.searches = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Api.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield _Api
    server.shutdown()


def _search_it(url: str):
    return search(
        url,
        aoi=aoi_from_geojson(shape(ITEM["geometry"]).centroid.buffer(0.01).__geo_interface__),
        start="2024-08-20",
        end="2024-08-25",
        collections=["sentinel-2-l2a"],
    )


def test_throttling_and_server_errors_are_retried(flaky_api) -> None:
    flaky_api.failures = [503, 429, 502]
    found = _search_it(flaky_api.url)
    assert [i.id for i in found.items] == [ITEM["id"]]
    assert len(flaky_api.searches) == 4  # three refusals, then the answer


def test_an_api_that_stays_down_is_reported_with_its_status(flaky_api) -> None:
    flaky_api.failures = [503] * 20
    with pytest.raises(SearchError, match="answered HTTP 503"):
        _search_it(flaky_api.url)
    assert len(flaky_api.searches) == _search.API_RETRIES + 1
