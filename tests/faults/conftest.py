"""Fixtures of the fault suite: the cube tests' small region, shared rather than copied."""

from tests.cube.conftest import small_region  # noqa: F401 - a fixture, used by name
