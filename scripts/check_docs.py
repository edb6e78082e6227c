#!/usr/bin/env python3
"""Fails when a module has more public declarations without a `///` doc comment than its baseline allows.

A declaration counts when it is `public` or `open` (or a requirement of a `public protocol`), and it is
documented when the line directly above it, past any attribute lines such as `@discardableResult`, is a
`///` comment or the end of a `/** ... */` block. Extensions and imports are not declarations here; the
generated Sources/ONNXProto is skipped. Baselines live in scripts/doc-baseline.txt (`Module count` per
line); a module not listed there has a baseline of 0, so a new module starts fully documented.

    python3 scripts/check_docs.py                  # check (what scripts/test.sh runs)
    python3 scripts/check_docs.py --list Imaging   # print every undocumented declaration of a module
    python3 scripts/check_docs.py --write-baseline # lower (or set) the baselines to today's counts
"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "Sources"
BASELINE = ROOT / "scripts" / "doc-baseline.txt"
SKIPPED_MODULES = {"ONNXProto"}

KEYWORDS = {"func", "var", "let", "class", "struct", "enum", "protocol", "init", "subscript",
            "typealias", "actor", "case", "associatedtype", "macro"}
MODIFIERS = {"public", "open", "final", "static", "class", "override", "mutating", "nonmutating",
             "nonisolated", "convenience", "required", "indirect", "lazy", "weak", "unowned", "dynamic",
             "private(set)", "fileprivate(set)", "internal(set)", "package(set)", "consuming", "borrowing"}
ATTRIBUTE = re.compile(r"^@\w+(\([^)]*\))?\s*")
REQUIREMENT = re.compile(r"^\s*(@\w+(\([^)]*\))?\s+)*((static|mutating|nonisolated)\s+)*"
                         r"(func|var|init|subscript|associatedtype)\b")


def declaration_keyword(line: str):
    """The declaration keyword of a `public`/`open` declaration on this line, or None."""
    text = line.strip()
    while True:
        stripped = ATTRIBUTE.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    tokens = re.findall(r"\w+\(set\)|[\w?!]+", text)
    visible = False
    for i, token in enumerate(tokens):
        keyword = token.rstrip("?!")
        if keyword in KEYWORDS and not (keyword == "class" and i + 1 < len(tokens)
                                        and tokens[i + 1].rstrip("?!") in KEYWORDS | MODIFIERS):
            return keyword if visible else None
        if token in ("public", "open"):
            visible = True
        elif token not in MODIFIERS:
            return None
    return None


def documented(lines, index):
    """Whether the declaration at `lines[index]` has a doc comment directly above (attributes may sit between)."""
    j = index - 1
    while j >= 0 and lines[j].strip().startswith("@"):
        j -= 1
    if j < 0:
        return False
    above = lines[j].strip()
    return above.startswith("///") or above.endswith("*/")


def scan(path: Path):
    """(line number, text) of every public declaration in a file, and whether each is documented."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    protocol_depth = None  # brace depth inside a `public protocol` body
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("//") or stripped.startswith("*"):
            continue
        if protocol_depth is not None:
            if protocol_depth == 1 and REQUIREMENT.match(line):
                found.append((index + 1, stripped, documented(lines, index)))
            protocol_depth += line.count("{") - line.count("}")
            if protocol_depth <= 0:
                protocol_depth = None
            continue
        keyword = declaration_keyword(line)
        if keyword is None:
            continue
        found.append((index + 1, stripped, documented(lines, index)))
        if keyword == "protocol":
            depth = line.count("{") - line.count("}")
            protocol_depth = depth if depth > 0 else None
    return found


def modules(sources=SOURCES):
    """Module name → list of (file, line, text) of its undocumented declarations, and its total."""
    result = {}
    for directory in sorted(p for p in sources.iterdir() if p.is_dir() and p.name not in SKIPPED_MODULES):
        missing, total = [], 0
        for path in sorted(directory.rglob("*.swift")):
            for number, text, ok in scan(path):
                total += 1
                if not ok:
                    missing.append((path.relative_to(sources.parent), number, text))
        if total:
            result[directory.name] = (missing, total)
    return result


def read_baseline(path):
    baseline = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, count = line.split()
                baseline[name] = int(count)
    return baseline


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", metavar="MODULE", help="print every undocumented declaration of MODULE")
    parser.add_argument("--write-baseline", action="store_true", help="write today's counts as the baselines")
    parser.add_argument("--sources", type=Path, default=SOURCES, help="the Sources folder (default: the repo's)")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="the baseline file")
    args = parser.parse_args()

    found = modules(args.sources)
    if args.list:
        for path, number, text in found.get(args.list, ([], 0))[0]:
            print(f"{path}:{number}: {text}")
        return 0
    if args.write_baseline:
        lines = ["# Public declarations without a /// doc comment, per module (scripts/check_docs.py).",
                 "# The check fails when a module has more; lower a number when you document, never raise it."]
        lines += [f"{name} {len(missing)}" for name, (missing, _) in found.items()]
        args.baseline.write_text("\n".join(lines) + "\n")
        print(f"[docs] wrote {args.baseline}")
        return 0

    baseline = read_baseline(args.baseline)
    over = []
    for name, (missing, total) in found.items():
        allowed = baseline.get(name, 0)
        note = ""
        if len(missing) > allowed:
            over.append(name)
            note = "  OVER"
        elif len(missing) < allowed:
            note = "  (below the baseline: lower it in scripts/doc-baseline.txt)"
        print(f"[docs] {name}: {len(missing)} of {total} public declarations undocumented "
              f"(baseline {allowed}){note}")
    for name in over:
        print(f"\n[docs] undocumented public declarations in {name} (add a /// comment above each):")
        for path, number, text in found[name][0]:
            print(f"  {path}:{number}: {text}")
    if over:
        print(f"\n[docs] FAILED: {', '.join(over)} over the baseline", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
