"""Shared test setup: put tests/ on sys.path so helpers that live there
(qemu_ref.py, gnu.py, tables.py) import the same way from any subdirectory,
whatever pytest's import mode."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
