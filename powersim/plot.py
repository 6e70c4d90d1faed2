"""Plots of a sweep's stored points (``plot``) and of a compare
(``compare_plot``): matplotlib on the Agg backend (no display, no pyplot
state), one line per ``hue`` value, one panel per ``facet`` value.

    fig = plot(Store("results.sqlite").rows(), x="workload.memory", y="op_seconds",
               hue="kernel.method", out="out.png")

A name is a scenario key (``section.key``: read from the point's resolved
configuration) or a dotted path into the Results JSON (``op_seconds``,
``counters.ipi_sent``, ``serialize_latency.median``, ``host.wall_seconds``).
Points that share (facet, hue, x) -- seeds, or keys not plotted -- are drawn
as their mean with a bar from min to max.  An axis whose positive values span
two decades or more is logarithmic; byte-valued keys (``workload.memory``) are
labelled in binary units (16MiB, 4GiB).
"""

import sys

from powersim.config import SECTIONS, ConfigError

UNITS = {"op_seconds": "s", "sim_seconds": "s", "host.wall_seconds": "s"}
LOG_SPAN = 100          # max/min at or above this: log axis (two decades)


def human_size(n) -> str:
    """65536 -> "64KiB", 1.5 * 2**30 -> "1.5GiB"."""
    for unit, mult in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20),
                       ("KiB", 1 << 10)):
        if abs(n) >= mult:
            v = n / mult
            return f"{v:.0f}{unit}" if v == int(v) else f"{v:.3g}{unit}"
    return f"{n:g}B"


def _units() -> dict:
    from powersim.config import describe
    return {r[0]: r[3] for r in describe()}


def value(row: dict, name: str):
    """The value of ``name`` for a stored row (KeyError when it has none)."""
    res = row["results"]
    section, _, rest = name.partition(".")
    if section in SECTIONS and rest:
        return res["config"][section][rest]
    if name == "seed":
        return row["seed"]
    v = res
    for part in name.split("."):
        v = v[part]
    return v


def _allowed(row) -> list:
    out = ["section.key (a scenario key, see `powersim params`)"]

    def walk(prefix, obj):
        for k, v in obj.items():
            if k in ("config", "notes"):
                continue
            name = f"{prefix}{k}"
            if isinstance(v, dict):
                walk(name + ".", v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(name)
    walk("", row["results"])
    return out


def _check(rows, names):
    for opt, name in names:
        if name is None:
            continue
        bad = [r for r in rows if not _has(r, name)]
        if bad:
            raise ConfigError(f"{opt} {name}: not in the stored results; allowed: "
                              f"{', '.join(_allowed(bad[0]))}")


def _has(row, name):
    try:
        value(row, name)
        return True
    except (KeyError, TypeError):
        return False


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fmt(name, v, units):
    return human_size(v) if units.get(name) == "bytes" and _is_num(v) else str(v)


def _order(vals):
    """Distinct values, sorted when they are all numbers or all strings (so the
    picture does not depend on the order points finished), else first seen."""
    uniq = list(dict.fromkeys(vals))
    if all(_is_num(v) for v in uniq) or all(isinstance(v, str) for v in uniq):
        return sorted(uniq)
    return uniq


MARKERS = "os^Dv<>p"
STYLES = ("-", "--", "-.", ":")     # lines that coincide (ipi and trim) stay visible


def _spans_decades(vals):
    pos = [v for v in vals if _is_num(v)]
    return bool(pos) and min(pos) > 0 and max(pos) / min(pos) >= LOG_SPAN


def _label(name, units):
    u = UNITS.get(name) or ("ns" if name.startswith("serialize_latency.") else None)
    if u is None and units.get(name) not in (None, "bytes", "name", "flag", "seed"):
        u = units[name]
    return f"{name} ({u})" if u else name


def plot(rows, x, y="op_seconds", hue=None, facet=None, out=None, title=None):
    """The figure of ``y`` against ``x`` (see the module doc); saved to ``out``
    (PNG, or any format matplotlib knows by the extension) when given."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    rows = list(rows)
    if not rows:
        raise ConfigError("no stored points to plot: run a sweep into the database first")
    _check(rows, (("--x", x), ("--y", y), ("--hue", hue), ("--facet", facet)))
    if not all(_is_num(value(r, y)) for r in rows):
        raise ConfigError(f"--y {y}: not a number in the stored results; allowed: "
                          f"{', '.join(_allowed(rows[0])[1:])}")
    units = _units()
    groups = {}
    for r in rows:
        k = (value(r, facet) if facet else None, value(r, hue) if hue else None,
             value(r, x))
        groups.setdefault(k, []).append(value(r, y))
    facets = _order(k[0] for k in groups)
    hues = _order(k[1] for k in groups)
    xs_all = _order(k[2] for k in groups)
    numeric_x = all(_is_num(v) for v in xs_all)
    ys_all = [v for vs in groups.values() for v in vs]
    logx = numeric_x and _spans_decades(xs_all)
    logy = _spans_decades(ys_all)

    n = len(facets)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(5.2 * ncols, 4.0 * nrows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for i, fv in enumerate(facets):
        ax = axes[i // ncols][i % ncols]
        for j, hv in enumerate(hues):
            style = {"marker": MARKERS[j % len(MARKERS)], "linestyle": STYLES[j % len(STYLES)]}
            pts = [(xv, groups[(fv, hv, xv)]) for xv in xs_all if (fv, hv, xv) in groups]
            if not pts:
                continue
            pos = [xv if numeric_x else xs_all.index(xv) for xv, _ in pts]
            mean = [sum(v) / len(v) for _, v in pts]
            err = [[m - min(v) for m, (_, v) in zip(mean, pts)],
                   [max(v) - m for m, (_, v) in zip(mean, pts)]]
            label = _fmt(hue, hv, units) if hue else y
            if any(len(v) > 1 for _, v in pts):
                ax.errorbar(pos, mean, yerr=err, capsize=3, label=label, **style)
            else:
                ax.plot(pos, mean, label=label, **style)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        if not numeric_x:
            ax.xaxis.set_major_locator(FixedLocator(range(len(xs_all))))
            ax.xaxis.set_major_formatter(FuncFormatter(
                lambda v, _p: _fmt(x, xs_all[int(round(v))], units)
                if 0 <= round(v) < len(xs_all) else ""))
        elif units.get(x) == "bytes":
            if len(xs_all) <= 12:
                ax.xaxis.set_major_locator(FixedLocator(xs_all))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: human_size(v)))
        ax.set_xlabel(_label(x, units))
        if i % ncols == 0:
            ax.set_ylabel(_label(y, units))
        if facet:
            ax.set_title(f"{facet} = {_fmt(facet, fv, units)}")
        ax.grid(True, which="major", alpha=0.3)
        if hue:
            ax.legend(title=hue, fontsize="small")
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    scen = sorted({r["scenario"] for r in rows})
    seeds = max(len(v) for v in groups.values())
    fig.suptitle(title or (f"{y} vs {x}  ({', '.join(scen)}"
                           + (f"; mean of up to {seeds} points, bars min..max" if seeds > 1
                              else "") + ")"), fontsize="medium")
    if out:
        fig.savefig(out, dpi=110)
    return fig


def compare_plot(results, out=None):
    """``powersim compare --plot``: the measured operation's time per method, one
    bar each (a log axis when they span two decades or more), each annotated
    with the IPIs it sent and the tlbies it issued; saved to ``out`` when given."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = [r.method for r in results]
    unit, per_second = _time_unit(max(r.op_seconds for r in results))
    times = [r.op_seconds * per_second for r in results]
    fig = Figure(figsize=(1.6 * len(results) + 2.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    bars = ax.bar(methods, times, color="tab:blue", alpha=0.8)
    log = _spans_decades(times)
    if log:
        ax.set_yscale("log")
    top = max(times) * (12 if log else 1.25)
    ax.set_ylim(top=top)
    for bar, r in zip(bars, results):
        c = r.counters
        ax.annotate(f"{_seconds_label(r.op_seconds)}\n{c['ipi_sent']:,} IPIs\n"
                    f"{c['tlbie']:,} tlbies", (bar.get_x() + bar.get_width() / 2,
                                               bar.get_height()),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize="small")
    ax.set_xlabel("kernel.method")
    ax.set_ylabel(f"op time ({unit})")
    ax.grid(True, axis="y", which="major", alpha=0.3)
    fig.suptitle(f"{results[0].scenario}: op time per method", fontsize="medium")
    if out:
        fig.savefig(out, dpi=110)
    return fig


def _time_unit(seconds: float) -> tuple:
    """The largest unit ``seconds`` is at least one of, and its count per second."""
    for unit, per_second in (("s", 1), ("ms", 1e3), ("us", 1e6)):
        if seconds >= 1 / per_second:
            return unit, per_second
    return "ns", 1e9


def _seconds_label(seconds: float) -> str:
    """3.43 -> "3.43 s", 0.0002 -> "200 us"."""
    unit, per_second = _time_unit(seconds)
    return f"{seconds * per_second:.3g} {unit}"


def default_axes(grid_keys):
    """(x, y, hue, facet) of ``sweep --plot``: x = workload.memory when swept, else
    the first swept key; hue = kernel.method when swept, else the next key;
    facet = the next one; y = op_seconds."""
    keys = list(grid_keys)
    if not keys:
        return "workload.seed", "op_seconds", None, None
    x = "workload.memory" if "workload.memory" in keys else keys[0]
    rest = [k for k in keys if k != x]
    hue = "kernel.method" if "kernel.method" in rest else (rest[0] if rest else None)
    rest = [k for k in rest if k != hue]
    return x, "op_seconds", hue, (rest[0] if rest else None)


def require_matplotlib(what: str):
    """ConfigError unless the plot extra is installed (``what`` needs it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(f"{what} needs matplotlib: pip install 'powersim[plot]'") from None


def cmd_plot(args) -> int:
    from powersim.store import Store
    require_matplotlib("plot")
    with Store(args.db, create=False) as st:
        rows = st.rows()
    plot(rows, x=args.x, y=args.y, hue=args.hue, facet=args.facet, out=args.output,
         title=args.title)
    print(f"{args.output}: {args.y} vs {args.x}, {len(rows)} points", file=sys.stderr)
    return 0

