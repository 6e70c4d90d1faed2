"""`powersim ...`: the command line.  Imports are lazy so that `--help` is
instant and nothing is compiled before a command needs it."""

import argparse
import sys

from powersim.errors import PowersimError


def _int(text: str) -> int:
    """An integer in any base Python accepts (0x..., 0o..., 0b..., decimal)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _count(text: str) -> int:
    """A non-negative integer (a number of things to show)."""
    n = _int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"not a non-negative integer: {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="powersim",
        description="A cycle-approximate POWER9 SMT4 emulator that runs a tiny "
                    "Linux-like mm layer in real Power ISA code.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    a = sub.add_parser("asm", help="assemble GNU-as syntax into a flat little-endian image",
                       description="Assemble a GNU-as-syntax source (the subset a small "
                                   "kernel needs) into raw little-endian bytes.")
    a.add_argument("source", metavar="IN.s")
    a.add_argument("-o", "--output", metavar="OUT.bin", help="write the image here")
    a.add_argument("--base", type=_int, default=0, metavar="ADDR",
                   help="address of the first byte of the image (default 0)")
    a.add_argument("--symbols", action="store_true", help="print the symbol table")

    d = sub.add_parser("disasm", help="disassemble a raw image, one word per line",
                       description="Print address, hex word and disassembly for each "
                                   "32-bit little-endian word (.long 0x... outside the subset).")
    d.add_argument("image", metavar="IN.bin")
    d.add_argument("--base", type=_int, default=0, metavar="ADDR",
                   help="address of the first byte of the image (default 0)")

    e = sub.add_parser("exec", help="run a bare program on the emulated machine",
                       description="Assemble PROG.s, load it at physical 0 and start every "
                                   "hardware thread at _start in hypervisor real mode with "
                                   "r3 = PIR; run until every thread executed attn or "
                                   "--max-cycles.")
    e.add_argument("source", metavar="PROG.s")
    e.add_argument("--chips", type=_int, default=1, metavar="C", help="chips (default 1)")
    e.add_argument("--cores", type=_int, default=1, metavar="N",
                   help="SMT4 cores per chip, 1..64 (default 1)")
    e.add_argument("--smt", type=_int, default=4, metavar="T",
                   help="threads per core: 1, 2 or 4 (default 4)")
    e.add_argument("--threads", type=_int, default=None, metavar="N",
                   help="start only the first N hardware threads in PIR order")
    e.add_argument("--max-cycles", type=_int, default=10**9, metavar="N",
                   help="stop after N cycles (default 1e9)")
    e.add_argument("--dump", action="append", default=[], metavar="ADDR:LEN",
                   help="dump memory after the run (repeatable)")
    e.add_argument("--exact", action="store_true",
                   help="every instruction in global cycle order (slower)")
    e.add_argument("--memory-model", default="power", choices=("power", "sc"),
                   help="POWER's weak memory model (default) or sequential consistency "
                        "(machine.memory_model)")
    e.add_argument("--json", metavar="OUT.json", help="write the full results as JSON")

    k = sub.add_parser("kernel", help="build the tiny kernel image and show it",
                       description="Build the kernel image for a machine shape and a "
                                   "serialization method, and print its symbols or its "
                                   "disassembly (every routine under its symbol name).")
    k.add_argument("--method", default="ipi", metavar="M",
                   help="serialization method, or the path of a C method file "
                        "(default ipi)")
    k.add_argument("--ipi", default="doorbell", choices=("doorbell", "xive"),
                   help="how IPIs are sent (default doorbell)")
    k.add_argument("--chips", type=_int, default=1, metavar="C", help="chips (default 1)")
    k.add_argument("--cores", type=_int, default=1, metavar="N",
                   help="SMT4 cores per chip (default 1)")
    k.add_argument("--dump", action="store_true", help="print the disassembly")
    k.add_argument("-o", "--output", metavar="OUT.bin", help="write the raw image here")

    r = sub.add_parser("params", help="list every scenario parameter",
                       description="Print each [machine], [kernel] and [workload] parameter "
                                   "of a scenario file: type, default, unit, description "
                                   "and source.")
    r.add_argument("--section", choices=("machine", "kernel", "workload"),
                   help="only this section")

    u = sub.add_parser("run", help="run a scenario and print its results",
                       description="Load and check SCENARIO.toml (with --set overrides), "
                                   "run its workload on the emulated machine and print a "
                                   "summary table; --json writes the full results.")
    u.add_argument("scenario", metavar="SCENARIO.toml")
    u.add_argument("--method", metavar="M", help="serialization method (kernel.method): "
                   "a method's name or the path of a C method file (.c)")
    u.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="SECTION.KEY=VALUE", help="override a scenario key (repeatable)")
    u.add_argument("--seed", type=_int, metavar="N", help="workload seed (workload.seed)")
    u.add_argument("--json", metavar="OUT.json", help="write the results as JSON")
    u.add_argument("--trace", metavar="FILE.json",
                   help="write a Chrome trace (Perfetto, chrome://tracing) of the run: one "
                        "track per CPU with interrupts, IPIs, waits, sleeps, guest periods "
                        "and serialize rounds (sets machine.trace_events)")
    u.add_argument("--trace-window", metavar="START:END",
                   help="with --trace: keep only events overlapping this simulated-time "
                        "window, e.g. 0:50us or 1ms:2ms (plain numbers are microseconds)")
    u.add_argument("--races", type=_count, metavar="N",
                   help="list the first N races the race checker found (cycle, time, CPU, "
                        "kind, PMD slot and addresses), also with --quiet")
    u.add_argument("--quiet", action="store_true", help="no progress line and no table")

    sw = sub.add_parser("sweep", help="run a scenario over a grid of parameters into a "
                                      "results database",
                        description="Run SCENARIO.toml at every point of the grid (the "
                                    "product of the --grid lists, times --seeds) on a local "
                                    "process pool or a Dask cluster; every finished point "
                                    "is stored at once in --db (SQLite) and points already "
                                    "stored are skipped, so re-running the command resumes.")
    sw.add_argument("scenario", metavar="SCENARIO.toml")
    sw.add_argument("--grid", action="append", default=[], metavar="SECTION.KEY=V1,V2,...",
                    help="sweep a scenario key over these values (repeatable)")
    sw.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="SECTION.KEY=VALUE", help="override a key at every point")
    sw.add_argument("--seeds", type=_int, metavar="N", help="run workload.seed = 1..N")
    sw.add_argument("--db", required=True, metavar="DB.sqlite", help="results database")
    ex = sw.add_mutually_exclusive_group()
    ex.add_argument("--jobs", type=_int, metavar="N",
                    help="local worker processes (default: the number of CPUs)")
    ex.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run the points on this Dask cluster (the dist extra)")
    ex.add_argument("--dask-local", type=_int, metavar="N",
                    help="start a Dask LocalCluster of N worker processes on 127.0.0.1")
    sw.add_argument("--plot", metavar="OUT.png", help="draw the default figure at the end")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")

    rs = sub.add_parser("results", help="export a results database (CSV or JSON)",
                        description="Print every stored point of a sweep database: CSV "
                                    "(one line a point, the swept keys and the measured "
                                    "values) or JSON (the rows with the full Results).")
    rs.add_argument("db", metavar="DB.sqlite")
    rs.add_argument("--format", choices=("csv", "json"), default="csv",
                    help="output format (default csv)")
    rs.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    pl = sub.add_parser("plot", help="plot a results database",
                        description="Plot Y against X for the points of a sweep database, "
                                    "one line per --hue value and one panel per --facet "
                                    "value; axes spanning two decades are logarithmic.")
    pl.add_argument("db", metavar="DB.sqlite")
    pl.add_argument("--x", required=True, metavar="NAME",
                    help="a scenario key (workload.memory) or a results value")
    pl.add_argument("--y", default="op_seconds", metavar="NAME",
                    help="a results value, e.g. op_seconds, counters.ipi_sent "
                         "(default op_seconds)")
    pl.add_argument("--hue", metavar="NAME", help="one line per value of this key")
    pl.add_argument("--facet", metavar="NAME", help="one panel per value of this key")
    pl.add_argument("--title", help="figure title")
    pl.add_argument("-o", "--output", required=True, metavar="OUT.png")

    c = sub.add_parser("compare", help="run a scenario under several methods, side by side",
                       description="Run SCENARIO.toml once per serialization method and "
                                   "print the results side by side, with each op time's "
                                   "ratio to the first method's.")
    c.add_argument("scenario", metavar="SCENARIO.toml")
    c.add_argument("--methods", default="ipi,count,percpu,robust,trim", metavar="M,M,...",
                   help="comma-separated kernel.method values, names or C method files "
                        "(default: the five safe methods ipi,count,percpu,robust,trim)")
    c.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="SECTION.KEY=VALUE", help="override a scenario key (repeatable)")
    c.add_argument("--seed", type=_int, metavar="N", help="workload seed (workload.seed)")
    c.add_argument("--json", metavar="OUT.json", help="write the list of results as JSON")
    c.add_argument("--plot", metavar="OUT.png",
                   help="draw op time per method, with the IPIs and tlbies of each (the "
                        "plot extra)")
    c.add_argument("--jobs", type=_int, metavar="N",
                   help="run the methods in N processes at once, this one and N-1 "
                        "workers (default: the number of CPUs; 1: one after the other "
                        "here, each with its own progress bar); the results and the "
                        "table are the same")
    c.add_argument("--quiet", action="store_true", help="no progress bars")

    lt = sub.add_parser("litmus", help="run PPC litmus tests and count their outcomes",
                        description="Run each litmus test (herd's PPC format) many times "
                                    "with seeded start delays, print the histogram of final "
                                    "states, whether the condition was observed and the "
                                    "POWER verdict the file records; exit status 1 when an "
                                    "outcome POWER forbids appeared.")
    lt.add_argument("files", nargs="+", metavar="FILE.litmus")
    lt.add_argument("--iterations", type=_int, default=10000, metavar="N",
                    help="iterations per test (default 10000)")
    lt.add_argument("--placement", default="cores", choices=("smt", "cores", "chips", "mixed"),
                    help="test threads on SMT siblings of one core, thread 0 of distinct "
                         "cores of one chip, distinct chips, or a mix (default cores)")
    lt.add_argument("--exact", action="store_true",
                    help="every instruction in global cycle order (slower)")
    lt.add_argument("--seed", type=_int, default=1, metavar="N",
                    help="seed of the start delays (default 1)")
    lt.add_argument("--max-delay", type=_count, default=300, metavar="CYCLES",
                    help="start delays are drawn from 0..CYCLES per thread and iteration "
                         "(default 300)")
    lt.add_argument("--memory-model", default="power", choices=("power", "sc"),
                    help="POWER's weak memory model (default) or sequential consistency, "
                         "where no relaxed outcome can appear")
    lt.add_argument("--preload", default="random", choices=("random", "none"),
                    help="before each iteration every thread loads a random subset of the "
                         "locations into its cache, as litmus7 does (default random); none: "
                         "only each location's last initial writer holds it")
    lt.add_argument("--json", metavar="OUT.json", help="write the outcomes as JSON")

    return p


def _overrides(args, *more) -> list:
    """The --set overrides, ``more``, then --seed as workload.seed."""
    seed = [] if args.seed is None else [f"workload.seed={args.seed}"]
    return [*args.overrides, *more, *seed]


def _cmd_compare(args) -> int:
    import json

    from powersim.compare import run_methods
    from powersim.config import ConfigError
    from powersim.results import compare_table

    methods = [m.strip() for m in args.methods.split(",")]
    if args.plot:
        from powersim.plot import require_matplotlib
        require_matplotlib("compare --plot")
    if not all(methods):
        raise ConfigError(f"--methods {args.methods!r}: allowed a comma-separated list of "
                          "methods, e.g. ipi,count")
    # every method's scenario is checked before any runs; each run builds its kernel
    # in its own process (one after the other here with --jobs 1)
    results = run_methods(args.scenario, methods, args.overrides, seed=args.seed,
                          jobs=args.jobs, progress=not args.quiet)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.to_dict() for r in results], f, indent=1, sort_keys=True)
            f.write("\n")
    print(compare_table(results))
    if args.plot:
        from powersim.plot import compare_plot
        compare_plot(results, args.plot)
        print(f"{args.plot}: op time per method", file=sys.stderr)
    return 0


def _cmd_run(args) -> int:
    from powersim.config import ConfigError, load_scenario
    from powersim.sim import Simulation

    overrides = _overrides(args, *([] if args.method is None else
                                   [f"kernel.method={args.method}"]))
    window = None
    if args.trace_window is not None:
        from powersim.chrome_trace import parse_window
        if args.trace is None:
            raise ConfigError(f"--trace-window = {args.trace_window!r}: needs --trace "
                              "FILE.json")
        window = parse_window(args.trace_window)
    if args.trace is not None:
        overrides.append("machine.trace_events=true")
    sim = Simulation(load_scenario(args.scenario, overrides), args.scenario)
    res = sim.run(progress=not args.quiet)
    if args.json:
        with open(args.json, "w") as f:
            f.write(res.to_json() + "\n")
    if args.trace is not None:
        import json

        from powersim.chrome_trace import chrome_trace
        with open(args.trace, "w") as f:
            json.dump(chrome_trace(sim.last_run, window), f, separators=(",", ":"))
            f.write("\n")
    if not args.quiet:
        print(res.summary())
    if args.races is not None:
        print(res.race_list(args.races))
    return 0


def _cmd_kernel(args) -> int:
    import attrs

    from powersim.kernel.image import Kernel, dump
    from powersim.kernel.params import KernelParams
    from powersim.machine.params import MachineParams

    mp = MachineParams(chips=args.chips, cores_per_chip=args.cores).validate()
    kp = attrs.evolve(KernelParams.for_machine(mp), method=args.method).validate()
    img = Kernel(chips=args.chips, cores_per_chip=args.cores, ipi=args.ipi, params=mp,
                 kparams=kp).image
    if args.output:
        with open(args.output, "wb") as f:
            f.write(img.data)
    if args.dump:
        print("\n".join(dump(img)))
    else:
        for name, addr in sorted(img.symbols.items(), key=lambda kv: (kv[1], kv[0])):
            print(f"{addr:#018x} {name}")
    return 0


def main(argv=None) -> int:
    """The program (``argv`` None: the console script, ``python -m powersim``) or
    a call with the arguments (tests)."""
    program = argv is None
    args = build_parser().parse_args(argv)
    if program and args.command in ("run", "compare"):
        from powersim.startup import defer_gc
        defer_gc()      # no collections until the numba core is loaded (startup.py)
    try:
        return _dispatch(args)
    finally:
        if program:
            from powersim.startup import freeze_for_exit
            freeze_for_exit()   # nothing left for the interpreter's last collection


def _dispatch(args) -> int:
    try:
        if args.command == "asm":
            from powersim.asm import cmd_asm
            return cmd_asm(args)
        if args.command == "disasm":
            from powersim.asm import cmd_disasm
            return cmd_disasm(args)
        if args.command == "exec":
            from powersim.machine.exec import cmd_exec
            return cmd_exec(args)
        if args.command == "kernel":
            return _cmd_kernel(args)
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "params":
            from powersim.config import cmd_params
            return cmd_params(args)
        if args.command == "sweep":
            from powersim.sweep import cmd_sweep
            return cmd_sweep(args)
        if args.command == "results":
            from powersim.store import cmd_results
            return cmd_results(args)
        if args.command == "litmus":
            from powersim.litmus_run import cmd_litmus
            return cmd_litmus(args)
        if args.command == "plot":
            from powersim.plot import cmd_plot
            return cmd_plot(args)
        raise AssertionError(args.command)
    except PowersimError as e:
        print(f"powersim: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except OSError as e:
        print(f"powersim: error: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 2
