"""Reading the tables `powersim run` and `powersim compare` print."""

import re


def table_rows(text: str) -> dict:
    """{row name: [cells]} of a printed summary or compare table (its first
    line, the title, skipped).  Columns are two or more spaces apart, so a name
    or a cell may hold one space ("gup median", "161.3 ns"); a sub-row keeps
    its two-space indent ("  leaf_to_table")."""
    out = {}
    for line in text.splitlines()[1:]:
        indent = "  " if line.startswith("  ") else ""
        name, *cells = re.split(r" {2,}", line.strip())
        out[indent + name] = cells
    return out
