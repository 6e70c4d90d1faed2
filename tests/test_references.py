"""The repository explains itself: every citation tag used in the code, the
parameter sources and the docs is defined in docs/REFERENCES.md, and nothing
points at documents outside the repository or at issue numbers."""

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "docs" / "REFERENCES.md"
SCANNED = ("powersim/**/*.py", "powersim/data/*.toml", "docs/*.md", "README.md",
           "CONTRIBUTING.md", "workloads/*.toml", "tests/**/*.py", "benchmarks/*.py",
           "examples/*")

# [L-tlb], [SK-dt], [N16], [GCC], [linux-mm 3.8]: not after a name (MSR[EE]), a
# slash (MSR[IR]/[DR]) or inside a regular expression ([A-Za-z]+)
TAG = re.compile(r"(?<![\w\])/%@\\(])\[([A-Z][\w.+]*(?:-[\w.+]+)*|linux-mm [^\]]+)\](?![+*?{\[])")
LINUX_MM = re.compile(r"linux-mm (N\d+|\d+\.\d+)")
SECTION = re.compile(r"\b(?:power9\.md,? )?(?:sections?\s|§)(\d+(?:\.\d+)?)"
                     r"(?:\s*[-–]\s*§?(\d+(?:\.\d+)?))?")
NOT_TAGS = {"DR", "IR", "PR", "BF"}     # "MSR[PR], [DR], [IR]"; cmpd's optional "[BF]"
OUTSIDE = re.compile(r"\.\./shared|/work/shared|reference/(?:power9|linux-mm)\.md"
                     r"|\bDESIGN\b|issue #\d")


def scanned_files() -> list:
    """Every file that may cite, but this page and this test (which names the patterns)."""
    files = {p for pattern in SCANNED for p in ROOT.glob(pattern) if p.is_file()}
    return sorted(p for p in files if p not in (REFERENCES, Path(__file__).resolve())
                  and p.suffix in (".py", ".md", ".toml", ".s"))


def prose(path: Path) -> str:
    """The text a file can cite in: a Python file's comments and strings
    (docstrings, parameter sources, messages), the whole of any other file."""
    text = path.read_text()
    if path.suffix != ".py":
        return text
    return "\n".join(t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
                     if t.type in (tokenize.COMMENT, tokenize.STRING))


def defined():
    """(the tags REFERENCES.md defines, {older spelling: tag})."""
    text = REFERENCES.read_text()
    tags = set(re.findall(r"^\| (\[[^\]]+\]) \|", text, re.M))
    older = text[text.index("## Older spellings"):]
    aliases = {}
    for cell, tag in re.findall(r"^\| (`.+?) \| (\[[^\]]+\]) \|$", older, re.M):
        for spelling in re.findall(r"`([^`]+)`", cell):
            aliases[spelling] = tag
    return tags, aliases


def citations(text: str) -> set:
    """What ``text`` cites: "[TAG]" for a bracketed tag, else the older spelling."""
    out = set()
    for m in TAG.finditer(text):
        if m.group(1) in NOT_TAGS:
            continue
        out.add(m.group(1) if m.group(1).startswith("linux-mm") else f"[{m.group(1)}]")
    out.update(f"linux-mm {x}" for x in LINUX_MM.findall(text))
    for a, b in SECTION.findall(text):
        out.update(f"section {x}" for x in (a, b) if x)
    return out


def test_references_page_is_consistent():
    tags, aliases = defined()
    assert len(tags) > 50
    assert {t for t in aliases.values() if t not in tags} == set()


def test_every_cited_tag_is_defined():
    tags, aliases = defined()
    missing = {}
    for path in scanned_files():
        for c in citations(prose(path)):
            if c not in tags and c not in aliases:
                missing.setdefault(c, []).append(str(path.relative_to(ROOT)))
    assert not missing, "cited but not defined in docs/REFERENCES.md:\n" + "\n".join(
        f"  {c}: {', '.join(files)}" for c, files in sorted(missing.items()))


def test_nothing_points_outside_the_repository():
    found = []
    for path in scanned_files():
        rel = str(path.relative_to(ROOT))
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("text,cites", [
    ("PIR has 6 core bits [SK-dt]; MSR[EE] stays 1", {"[SK-dt]"}),
    ("MSR[IR]/[DR] and LPCR[HR]", set()),
    ("[linux-mm N16]: 9,333 cycles (linux-mm 3.8)", {"linux-mm N16", "linux-mm 3.8"}),
    ("[N16]: 9,333 cycles [LM-softmask]", {"[N16]", "[LM-softmask]"}),
    ("reference/power9.md sections 3-4 (section 3.6, [Q-rad])",
     {"section 3", "section 4", "section 3.6", "[Q-rad]"}),
    (r"re.compile(r'(\d+)\s*([A-Za-z]+)')", set()),
])
def test_citations_are_recognised(text, cites):
    assert citations(text) == cites
