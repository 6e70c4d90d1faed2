"""Shared test setup: put tests/ on sys.path so helpers that live there
(qemu_ref.py, gnu.py, tables.py) import the same way from any subdirectory,
whatever pytest's import mode; the markers of pyproject.toml."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_collection_modifyitems(items):
    """A test that runs QEMU or starts a Dask cluster is also ``slow``, so that
    ``-m "not slow"`` (the fast subset, CONTRIBUTING.md) leaves it out."""
    for item in items:
        if item.get_closest_marker("qemu") or item.get_closest_marker("dask"):
            item.add_marker(pytest.mark.slow)
