"""The suite's network guard (tests/conftest.py) refuses anything but loopback."""

from __future__ import annotations

import socket
import urllib.request

import pytest


def test_remote_hosts_are_refused_and_loopback_is_not():
    with pytest.raises(OSError, match="offline"):
        urllib.request.urlopen("https://example.invalid/weights.pt", timeout=2)
    with pytest.raises(OSError, match="offline"):
        socket.create_connection(("192.0.2.1", 443), timeout=2)  # TEST-NET-1
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
