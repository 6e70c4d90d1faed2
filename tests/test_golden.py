"""Golden results (powersim.golden): each canonical small scenario must give
exactly its stored Results (apart from ``host``).  A failure lists what changed;
if the change is intended, refresh with ``python -m powersim.golden --update NAME``
and commit the new file with the change that caused it."""

import pytest

from powersim import golden


@pytest.mark.parametrize("name", golden.names())
def test_golden(name):
    doc = golden.load(name)
    changes = golden.diff(doc["results"], golden.simulate(doc["scenario"], doc["overrides"]))
    assert not changes, "\n".join(changes)
