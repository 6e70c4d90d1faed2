"""Golden results: the canonical small scenarios' results, stored as
``<name>.json`` in a directory of a checkout (the tests use tests/golden/) and
compared by tests/test_golden.py, so a change in behaviour shows up as a diff.
Refresh them only on purpose, from the repository root:

    python -m powersim.golden --list
    python -m powersim.golden --update NAME [NAME ...]     # or --update --all
    python -m powersim.golden --add NAME SCENARIO.toml [--set k=v ...]

``--dir`` (default tests/golden) and ``--root`` (default the current
directory: scenario paths are relative to it) point elsewhere.  A golden file
holds the scenario path, its overrides and the Results document without
``host`` (which is the only part that varies between runs).
"""

import argparse
import json
import pathlib
import sys

DEFAULT_DIR = "tests/golden"


def path_of(directory, name: str) -> pathlib.Path:
    return pathlib.Path(directory) / f"{name}.json"


def names(directory) -> list:
    return sorted(p.stem for p in pathlib.Path(directory).glob("*.json"))


def load(directory, name: str) -> dict:
    return json.loads(path_of(directory, name).read_text())


def simulate(root, scenario: str, overrides=()) -> dict:
    """The Results document of ``scenario`` (a path relative to ``root``) with
    ``overrides``, without ``host``."""
    from powersim.config import load_scenario
    from powersim.sim import run_scenario
    res = run_scenario(load_scenario(pathlib.Path(root) / scenario, list(overrides)), scenario)
    doc = json.loads(res.to_json())
    doc.pop("host")
    return doc


def diff(expected, actual, at="") -> list:
    """The paths where two JSON documents differ, with both values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for k in sorted(set(expected) | set(actual)):
            out += diff(expected.get(k, "<missing>"), actual.get(k, "<missing>"),
                        f"{at}.{k}" if at else k)
        return out
    return [] if expected == actual else [f"{at}: golden {expected!r}, now {actual!r}"]


def write(directory, root, name: str, scenario: str, overrides=()):
    pathlib.Path(directory).mkdir(parents=True, exist_ok=True)
    doc = {"scenario": scenario, "overrides": list(overrides),
           "results": simulate(root, scenario, overrides)}
    path_of(directory, name).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return doc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m powersim.golden",
                                description="List, refresh or add the golden results.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--list", action="store_true", help="list the golden files")
    g.add_argument("--update", nargs="*", metavar="NAME",
                   help="re-run and rewrite these golden files")
    g.add_argument("--add", nargs=2, metavar=("NAME", "SCENARIO.toml"),
                   help="create a golden file for a scenario (path relative to --root)")
    p.add_argument("--all", action="store_true", help="with --update: every golden file")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="SECTION.KEY=VALUE", help="with --add: an override (repeatable)")
    p.add_argument("--dir", default=DEFAULT_DIR,
                   help=f"the golden files' directory (default {DEFAULT_DIR})")
    p.add_argument("--root", default=".",
                   help="the directory scenario paths are relative to (default: here)")
    args = p.parse_args(argv)
    if args.list:
        for n in names(args.dir):
            d = load(args.dir, n)
            print(f"{n}: {d['scenario']} {' '.join(d['overrides'])}")
        return 0
    if args.add:
        write(args.dir, args.root, args.add[0], args.add[1], args.overrides)
        print(f"wrote {path_of(args.dir, args.add[0])}")
        return 0
    known = names(args.dir)
    todo = known if args.all else args.update
    unknown = [n for n in todo if n not in known]
    if unknown or not todo:
        print(f"golden: unknown {unknown}; known: {', '.join(known)} (in {args.dir})"
              if unknown else "golden: name golden files or pass --all", file=sys.stderr)
        return 2
    for n in todo:
        old = load(args.dir, n)
        new = write(args.dir, args.root, n, old["scenario"], old["overrides"])
        changes = diff(old["results"], new["results"])
        print(f"{n}: {len(changes)} change(s)")
        for c in changes:
            print(f"  {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
