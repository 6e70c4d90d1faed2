"""Plots of a results database: PNG written, labels, log axes
over decades, human sizes, facets, errors naming the option."""

import functools
import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from powersim import cli  # noqa: E402
from powersim.config import ConfigError, load_scenario  # noqa: E402
from powersim.plot import compare_plot, default_axes, human_size, plot  # noqa: E402
from powersim.store import Store, point_key  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "workloads/example-small.toml")
MEMS = ("16MiB", "256MiB", "4GiB")
COST = {"ipi": 3e-3, "count": 2e-4}      # made-up seconds per GiB: a clear picture


@functools.cache
def _rows():
    """Stored rows as a sweep writes them: 3 sizes x 2 methods x 2 cores x 2 seeds."""
    out = []
    for cores in (2, 4):
        for method in COST:
            for mem in MEMS:
                for seed in (1, 2):
                    sc = load_scenario(SCENARIO, [f"workload.memory={mem}",
                                                  f"kernel.method={method}",
                                                  f"machine.cores_per_chip={cores}",
                                                  f"workload.seed={seed}"])
                    cfg = sc.to_dict()
                    t = COST[method] * sc.workload.memory / 2**30 * cores * (1 + seed / 10)
                    out.append({"key": point_key(cfg), "scenario": "example-small.toml",
                                "overrides": [], "seed": seed, "method": method,
                                "results": {"config": cfg, "op_seconds": t,
                                            "counters": {"ipi_sent": 3},
                                            "host": {"wall_seconds": 1.0}}})
    return json.dumps(out)


def rows():
    return json.loads(_rows())


def test_png_with_labels_log_axes_and_human_sizes(tmp_path):
    out = tmp_path / "p.png"
    fig = plot(rows(), x="workload.memory", y="op_seconds", hue="kernel.method",
               facet="machine.cores_per_chip", out=str(out))
    assert out.exists() and out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2
    ax = axes[0]
    assert ax.get_xlabel() == "workload.memory" and ax.get_ylabel() == "op_seconds (s)"
    assert ax.get_title() == "machine.cores_per_chip = 2"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"   # 256x and >256x spans
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == list(MEMS)
    leg = ax.get_legend()
    assert leg.get_title().get_text() == "kernel.method"
    assert [t.get_text() for t in leg.get_texts()] == ["count", "ipi"]     # sorted
    # two seeds per point: drawn as their mean
    line = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"][0]     # ipi
    ipi_16m = [r["results"]["op_seconds"] for r in rows()
               if r["method"] == "ipi" and r["results"]["config"]["machine"]
               ["cores_per_chip"] == 2 and r["results"]["config"]["workload"]
               ["memory"] == 16 << 20]
    assert line.get_ydata()[0] == pytest.approx(sum(ipi_16m) / 2)


def test_linear_axes_when_the_range_is_small(tmp_path):
    few = [r for r in rows() if r["results"]["config"]["workload"]["memory"] == 16 << 20]
    fig = plot(few, x="machine.cores_per_chip", y="counters.ipi_sent")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    assert ax.get_ylabel() == "counters.ipi_sent" and ax.get_legend() is None


def test_unknown_names_are_refused_naming_the_option():
    with pytest.raises(ConfigError, match=r"--y op_secs: not in the stored results.*"
                                          r"op_seconds"):
        plot(rows(), x="workload.memory", y="op_secs")
    with pytest.raises(ConfigError, match="--hue kernel.methd"):
        plot(rows(), x="workload.memory", hue="kernel.methd")
    with pytest.raises(ConfigError, match="no stored points"):
        plot([], x="workload.memory")


def test_plot_cli(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    with Store(db) as st:
        for r in rows():
            st.add(dict(r, op_seconds=r["results"]["op_seconds"], host="h", pid=1,
                        wall_seconds=1.0, finished="2026-01-01T00:00:00+00:00"))
    out = tmp_path / "o.png"
    assert cli.main(["plot", str(db), "--x", "workload.memory", "--hue", "kernel.method",
                     "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert cli.main(["plot", str(db), "--x", "workload.memry", "-o", str(out)]) == 2
    assert "--x workload.memry" in capsys.readouterr().err


def test_default_axes_and_sizes():
    assert default_axes(["machine.cores_per_chip", "workload.memory", "kernel.method"]) == \
        ("workload.memory", "op_seconds", "kernel.method", "machine.cores_per_chip")
    assert default_axes(["kernel.method"]) == ("kernel.method", "op_seconds", None, None)
    assert [human_size(n) for n in (65536, 3 << 29, 496 << 30, 100)] == \
        ["64KiB", "1.5GiB", "496GiB", "100B"]


def _result(method, op_seconds, ipis, tlbies):
    """What compare_plot reads of a Results."""
    from types import SimpleNamespace
    return SimpleNamespace(method=method, op_seconds=op_seconds, scenario="seed.toml",
                           counters={"ipi_sent": ipis, "tlbie": tlbies})


def test_compare_plot_is_logarithmic_over_decades_and_annotated(tmp_path):
    out = tmp_path / "c.png"
    fig = compare_plot([_result("ipi", 275.0, 32251904, 3), _result("count", 0.2, 0, 3),
                        _result("robust", 1.465, 0, 761859)], str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "op time (s)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ipi", "count", "robust"]
    notes = [t.get_text() for t in ax.texts]
    assert notes[0] == "275 s\n32,251,904 IPIs\n3 tlbies"
    assert notes[2] == "1.47 s\n0 IPIs\n761,859 tlbies"


def test_compare_plot_is_linear_in_one_decade_in_the_largest_unit():
    fig = compare_plot([_result("ipi", 238e-6, 28, 6), _result("count", 30e-6, 0, 6)])
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "op time (us)"


def test_compare_cli_plot(tmp_path, capsys):
    out = tmp_path / "cmp.png"
    assert cli.main(["compare", SCENARIO, "--methods", "ipi,count", "--quiet", "--set",
                     "workload.memory=4MiB", "--plot", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert "op time per method" in capsys.readouterr().err

