"""Golden results (powersim.golden): each canonical small scenario must give
exactly its stored Results (apart from ``host``).  A failure lists what changed;
if the change is intended, refresh with ``python -m powersim.golden --update NAME``
(from the repository root) and commit the new file with the change that caused it."""

from pathlib import Path

import pytest

from powersim import golden

ROOT = Path(__file__).resolve().parents[1]      # scenario paths are relative to it
GOLDEN = ROOT / "tests" / "golden"


@pytest.mark.parametrize("name", golden.names(GOLDEN))
def test_golden(name):
    doc = golden.load(GOLDEN, name)
    changes = golden.diff(doc["results"], golden.simulate(ROOT, doc["scenario"],
                                                          doc["overrides"]))
    assert not changes, "\n".join(changes)
