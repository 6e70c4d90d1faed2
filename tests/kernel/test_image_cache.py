"""The on-disk kernel image cache (powersim/kernel/image_cache.py)."""

import attrs
import pytest

from powersim.kernel import image_cache
from powersim.kernel.image import Kernel, build_image
from powersim.kernel.layout import Layout
from powersim.kernel.params import KernelParams

LAY = Layout(pirs=[0, 1, 2, 3])
KP = KernelParams(method="ipi")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POWERSIM_CACHE", str(tmp_path))
    return tmp_path / "kernel-images"


class Counting:
    """build_image, counting its calls."""
    def __init__(self):
        self.calls = 0

    def __call__(self, lay, ipi, kp):
        self.calls += 1
        return build_image(lay, ipi, kp)


def test_hit_is_identical_and_skips_the_build(cache):
    b = Counting()
    first = image_cache.cached_build(b, LAY, "xive", KP)
    again = image_cache.cached_build(b, LAY, "xive", KP)
    assert b.calls == 1
    assert again == first == build_image(LAY, "xive", KP)     # data, symbols, lines
    assert len(list(cache.glob("*.img"))) == 1


@pytest.mark.parametrize("lay, ipi, kp", [
    (attrs.evolve(LAY, pte_tables=65), "xive", KP),
    (LAY, "doorbell", KP),
    (LAY, "xive", attrs.evolve(KP, method="count")),
    (LAY, "xive", attrs.evolve(KP, tlbie_stq_bug=False)),
])
def test_changed_inputs_miss(cache, lay, ipi, kp):
    b = Counting()
    image_cache.cached_build(b, LAY, "xive", KP)
    image_cache.cached_build(b, lay, ipi, kp)
    assert b.calls == 2
    assert len(list(cache.glob("*.img"))) == 2


def test_changed_source_misses(cache, monkeypatch):
    b = Counting()
    image_cache.cached_build(b, LAY, "xive", KP)
    monkeypatch.setattr(image_cache, "_src_digest", b"another kernel source")
    image_cache.cached_build(b, LAY, "xive", KP)
    assert b.calls == 2


@pytest.mark.parametrize("damage", [
    lambda blob: b"",
    lambda blob: b"garbage",
    lambda blob: blob[:len(blob) // 2],                        # torn
    lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),            # bit flip
])
def test_corrupt_file_is_ignored_and_rewritten(cache, damage):
    b = Counting()
    good = image_cache.cached_build(b, LAY, "xive", KP)
    (path,) = cache.glob("*.img")
    path.write_bytes(damage(path.read_bytes()))
    assert image_cache.cached_build(b, LAY, "xive", KP) == good
    assert b.calls == 2
    assert image_cache.cached_build(b, LAY, "xive", KP) == good    # rewritten: a hit
    assert b.calls == 2


def test_off_disables(tmp_path, monkeypatch):
    monkeypatch.setenv("POWERSIM_CACHE", "off")
    b = Counting()
    image_cache.cached_build(b, LAY, "xive", KP)
    image_cache.cached_build(b, LAY, "xive", KP)
    assert b.calls == 2


def test_unwritable_cache_still_builds(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("POWERSIM_CACHE", str(blocker))
    assert image_cache.cached_build(Counting(), LAY, "xive", KP) == build_image(LAY, "xive", KP)


def test_kernel_uses_the_cache(cache):
    k = Kernel(chips=1, cores_per_chip=1, smt=4, ipi="xive")
    assert len(list(cache.glob("*.img"))) == 1
    assert Kernel(chips=1, cores_per_chip=1, smt=4, ipi="xive").image == k.image


def test_prune_keeps_the_newest(cache, monkeypatch):
    monkeypatch.setattr(image_cache, "MAX_FILES", 2)
    b = Counting()
    for n in (65, 66, 67):
        image_cache.cached_build(b, attrs.evolve(LAY, pte_tables=n), "xive", KP)
    assert len(list(cache.glob("*.img"))) == 2
