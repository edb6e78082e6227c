#!/usr/bin/env python3
"""Fails when a target imports a module that Package.swift does not list among its dependencies.

Reads the targets from `swift package dump-package` (or a JSON file given with --package, for tests), scans
every `import X` of each target's Swift files, and reports the modules that are neither declared (a target, a
product, or a system module of the toolchain) nor the target itself. A module that only reaches a target
through another target still has to be declared: Package.swift should say what each module uses.

    python3 scripts/check_imports.py
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Modules of the toolchain and the platform, which no Package.swift declares.
SYSTEM = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Musl", "Darwin",
          "Synchronization", "Testing", "XCTest", "os", "_Concurrency", "Observation", "RegexBuilder"}
IMPORT = re.compile(r"^\s*(?:@\w+\s+)*(?:(?:public|internal|package|private|fileprivate)\s+)?import\s+"
                    r"(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)", re.MULTILINE)


def declared(target):
    """The module names a target's dependencies provide."""
    names = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.add(dependency[kind][0])
    return names


def source_dir(root, target):
    if target.get("path"):
        return root / target["path"]
    return root / ("Tests" if target["type"] == "test" else "Sources") / target["name"]


def problems(root, package):
    found = []
    for target in package["targets"]:
        if target["type"] == "system":
            continue
        allowed = declared(target) | SYSTEM | {target["name"]}
        for path in sorted(source_dir(root, target).rglob("*.swift")):
            for module in sorted(set(IMPORT.findall(path.read_text(encoding="utf-8")))):
                if module not in allowed:
                    found.append((target["name"], module, path.relative_to(root)))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the package folder")
    parser.add_argument("--package", type=Path, help="dump-package JSON to read instead of running swift")
    args = parser.parse_args()
    if args.package:
        package = json.loads(args.package.read_text())
    else:
        output = subprocess.run(["swift", "package", "dump-package"], cwd=args.root, capture_output=True, text=True)
        if output.returncode != 0:
            print(output.stderr, file=sys.stderr)
            return 1
        package = json.loads(output.stdout)
    found = problems(args.root, package)
    for target, module, path in found:
        print(f"[imports] {target} imports {module} without declaring it in Package.swift ({path})")
    if found:
        print(f"[imports] FAILED: {len(found)} undeclared import(s)", file=sys.stderr)
        return 1
    print(f"[imports] every import of {len(package['targets'])} targets is declared in Package.swift")
    return 0


if __name__ == "__main__":
    sys.exit(main())
