"""scripts/check_docs.py and scripts/check_imports.py, the source checks CI runs, over small made-up trees and the repo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_docs.py"

SWIFT = '''\
/// Documented.
public struct Good {
    /// Documented.
    @discardableResult
    public func run() -> Int { 1 }
    public var missing: Int            // undocumented (a trailing comment is not a doc comment)
    var internalOnly: Int              // not public: not counted
    public private(set) var alsoMissing = 0
}

public protocol Backend {
    /// Documented requirement.
    func a()
    func b()                           // undocumented requirement
}

// not a doc comment
public final class Bare {}
extension Good {}
'''


def run(tmp: Path, baseline: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp / "Sources" / "Mod").mkdir(parents=True, exist_ok=True)
    (tmp / "Sources" / "Mod" / "A.swift").write_text(SWIFT)
    (tmp / "baseline.txt").write_text(baseline)
    return subprocess.run([sys.executable, str(SCRIPT), "--sources", str(tmp / "Sources"),
                           "--baseline", str(tmp / "baseline.txt"), *extra],
                          capture_output=True, text=True)


def test_counts_and_lists_undocumented_declarations(tmp_path: Path) -> None:
    result = run(tmp_path, "Mod 3\n")
    assert result.returncode == 1
    assert "Mod: 5 of 8 public declarations undocumented (baseline 3)  OVER" in result.stdout
    listed = [line.strip() for line in result.stdout.splitlines() if "A.swift:" in line]
    assert [line.split(": ", 1)[1] for line in listed] == [
        "public var missing: Int            // undocumented (a trailing comment is not a doc comment)",
        "public private(set) var alsoMissing = 0",
        "public protocol Backend {",
        "func b()                           // undocumented requirement",
        "public final class Bare {}",
    ]


def test_passes_at_the_baseline_and_a_missing_module_means_zero(tmp_path: Path) -> None:
    assert run(tmp_path, "Mod 5\n").returncode == 0
    assert run(tmp_path, "# nothing listed\n").returncode == 1


def test_the_repository_is_within_its_baselines() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


IMPORTS = ROOT / "scripts" / "check_imports.py"


def test_an_undeclared_import_is_reported(tmp_path: Path) -> None:
    (tmp_path / "Sources" / "Low").mkdir(parents=True)
    (tmp_path / "Sources" / "Low" / "Low.swift").write_text("import Foundation\n")
    (tmp_path / "Sources" / "App").mkdir(parents=True)
    (tmp_path / "Sources" / "App" / "Main.swift").write_text("import Low\n@preconcurrency import Crypto\nimport Glibc\n")
    package = {"targets": [
        {"name": "Low", "type": "regular", "dependencies": []},
        {"name": "App", "type": "executable", "dependencies": [{"product": ["Crypto", "swift-crypto", None, None]}]},
    ]}
    (tmp_path / "package.json").write_text(json.dumps(package))
    command = [sys.executable, str(IMPORTS), "--root", str(tmp_path), "--package", str(tmp_path / "package.json")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 1
    assert "App imports Low without declaring it in Package.swift (Sources/App/Main.swift)" in result.stdout
    package["targets"][1]["dependencies"].append({"byName": ["Low", None]})
    (tmp_path / "package.json").write_text(json.dumps(package))
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
