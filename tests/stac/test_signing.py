"""Signing is applied only for providers that need it, right before reading."""

from __future__ import annotations

import sys
import types

import pytest

from geomm.errors import CatalogError
from geomm.stac import load_profile

BLOB = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/32/T/MT/B04.tif"


def test_unsigned_providers_return_the_href_unchanged():
    for name in ("earth-search", "cdse", "sample", "generic"):
        assert load_profile(name).sign(BLOB) == BLOB


def test_local_paths_are_never_signed():
    assert load_profile("pc").sign("/data/B04.tif") == "/data/B04.tif"


def test_planetary_computer_delegates_to_the_package_each_time(monkeypatch):
    calls = []
    fake = types.ModuleType("planetary_computer")
    fake.sign = lambda href: calls.append(href) or f"{href}?sv=token{len(calls)}"
    monkeypatch.setitem(sys.modules, "planetary_computer", fake)
    pc = load_profile("planetary-computer")
    assert pc.sign(BLOB) == f"{BLOB}?sv=token1"
    assert pc.sign(BLOB) == f"{BLOB}?sv=token2"  # signed anew on every read
    assert calls == [BLOB, BLOB]


def test_missing_signing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "planetary_computer", None)
    with pytest.raises(CatalogError, match=r"pip install 'geomm\[planetary-computer\]'"):
        load_profile("pc").sign(BLOB)
