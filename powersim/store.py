"""The sweep results store: one SQLite database, one row per point.

    st = Store("results.sqlite")
    st.keys()                       # the points already stored (sweeps skip them)
    st.add(row)                     # INSERT OR IGNORE: a point is stored once
    st.rows()                       # every row, results JSON decoded

A point is keyed by ``point_key(config)``: the SHA-256 of the canonical JSON of
the fully resolved scenario (``Scenario.to_dict()``, which holds
``workload.seed``) and the store's schema version.  Two grids that resolve to
the same configuration share their points; a changed default changes the key,
so such points run again.

Concurrency: the database is in WAL mode, every connection waits up to
``BUSY_MS`` for a lock (busy_timeout), every write is its own short
transaction, and the unique key with INSERT OR IGNORE keeps a point that two
sweeps ran at once stored once.  synchronous=NORMAL: in WAL mode a committed
row survives the writing process being killed (only an OS crash or power loss
can lose the last transactions) [SQLite docs "pragma synchronous", "WAL"].

The schema (``powersim results DB --format json`` prints the rows):

    points(id        INTEGER PRIMARY KEY,
           key       TEXT UNIQUE NOT NULL,  -- point_key(config)
           scenario  TEXT NOT NULL,         -- the scenario file as given to sweep
           overrides TEXT NOT NULL,         -- JSON list: --set then the grid's section.key=value
           seed      INTEGER NOT NULL,      -- workload.seed
           method    TEXT NOT NULL,         -- kernel.method
           op_seconds REAL,                 -- Results.op_seconds (simulated)
           results   TEXT NOT NULL,         -- Results.to_dict() as JSON, host included
           host      TEXT NOT NULL,         -- hostname of the worker that ran it
           pid       INTEGER,               -- its process id
           wall_seconds REAL NOT NULL,      -- host time of the point in the worker
           finished  TEXT NOT NULL)         -- UTC ISO-8601 time the worker finished it
    meta(name TEXT PRIMARY KEY, value TEXT) -- schema_version
"""

import hashlib
import json
import sqlite3
import time

from powersim.errors import PowersimError

SCHEMA_VERSION = 1
BUSY_MS = 60_000        # wait this long for another writer's lock before failing

COLUMNS = ("key", "scenario", "overrides", "seed", "method", "op_seconds", "results",
           "host", "pid", "wall_seconds", "finished")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    scenario TEXT NOT NULL,
    overrides TEXT NOT NULL,
    seed INTEGER NOT NULL,
    method TEXT NOT NULL,
    op_seconds REAL,
    results TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER,
    wall_seconds REAL NOT NULL,
    finished TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(PowersimError):
    """A results database that cannot be opened or is not a powersim store."""


def point_key(config: dict) -> str:
    """The identity of a point: SHA-256 (hex) of its resolved configuration."""
    text = json.dumps({"schema": SCHEMA_VERSION, "config": config}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    """A results database; ``create=False`` refuses a file that does not exist."""

    def __init__(self, path, create=True):
        import os
        self.path = str(path)
        if not create and not os.path.exists(self.path):
            raise StoreError(f"{self.path}: no such results database")
        try:
            self.conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000,
                                        isolation_level=None)   # explicit transactions
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            self._retry(self._setup, create)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite results database ({e})") \
                from None

    def _retry(self, fn, *args):
        """fn(*args), retried while the database is locked (switching to WAL and
        the first schema write take locks that busy_timeout does not always wait
        for)."""
        deadline = time.monotonic() + BUSY_MS / 1000
        while True:
            try:
                return fn(*args)
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _setup(self, create):
        c = self.conn
        if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = NORMAL")
        have = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "points" not in have:
            if not create:
                raise StoreError(f"{self.path}: not a powersim results database "
                                 "(no points table)")
            c.execute("BEGIN IMMEDIATE")
            try:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                          (str(SCHEMA_VERSION),))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        row = c.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema version {row and row[0]}, this powersim "
                             f"reads version {SCHEMA_VERSION}")

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing ------------------------------------------------------------------
    def add(self, row: dict) -> bool:
        """Store one finished point (its own transaction); False when its key was
        already stored (by this or another sweep)."""
        vals = dict(row)
        vals["overrides"] = json.dumps(list(vals["overrides"]))
        vals["results"] = json.dumps(vals["results"], sort_keys=True)
        cur = self._retry(self.conn.execute,
                          f"INSERT OR IGNORE INTO points ({', '.join(COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(COLUMNS))})",
                          tuple(vals[c] for c in COLUMNS))
        return cur.rowcount == 1

    # --- reading ------------------------------------------------------------------
    def keys(self) -> set:
        return {r[0] for r in self.conn.execute("SELECT key FROM points")}

    def has(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM points WHERE key = ?",
                                 (key,)).fetchone() is not None

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM points").fetchone()[0]

    def rows(self, keys=None) -> list:
        """Every stored point in insertion order (or those of ``keys``), as dicts
        with ``overrides`` and ``results`` decoded."""
        cur = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM points ORDER BY id")
        out = []
        for r in cur:
            d = dict(zip(COLUMNS, r))
            if keys is not None and d["key"] not in keys:
                continue
            d["overrides"] = json.loads(d["overrides"])
            d["results"] = json.loads(d["results"])
            out.append(d)
        return out

    def integrity(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]


# --- export (`powersim results`) ------------------------------------------------------
def _flatten(prefix, obj, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    else:
        out[prefix] = json.dumps(obj) if isinstance(obj, list) else obj
    return out


def export_rows(rows, fmt: str) -> str:
    """The rows as CSV (one line a point: the row's columns, then the swept
    keys, then op_seconds, sim_seconds, counters.* and serialize_latency.*) or
    JSON (a list of the rows, results and overrides decoded)."""
    if fmt == "json":
        return json.dumps(rows, indent=1, sort_keys=True)
    import csv
    import io
    head = ["key", "scenario", "seed", "method", "host", "pid", "wall_seconds", "finished"]
    swept, measured, flat = [], [], []
    for r in rows:
        res = r["results"]
        ov = {}
        for text in r["overrides"]:
            k, _, v = text.partition("=")
            ov[k.strip()] = v.strip()
        m = _flatten("", {k: res[k] for k in ("op_seconds", "sim_seconds", "counters",
                                              "serialize_latency") if k in res}, {})
        for k in ov:
            if k not in swept:
                swept.append(k)
        for k in m:
            if k not in measured:
                measured.append(k)
        flat.append((r, ov, m))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head + swept + measured)
    for r, ov, m in flat:
        w.writerow([r[k] for k in head] + [ov.get(k, "") for k in swept]
                   + [m.get(k, "") for k in measured])
    return buf.getvalue()


def cmd_results(args) -> int:
    with Store(args.db, create=False) as st:
        text = export_rows(st.rows(), args.format)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text if text.endswith("\n") else text + "\n")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0
