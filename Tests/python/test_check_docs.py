"""scripts/check_docs.py: the doc-comment check CI runs, over small made-up Sources trees and the repo's own."""

from __future__ import annotations

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
    assert "Mod: 4 of 8 public declarations undocumented (baseline 3)  OVER" in result.stdout
    listed = [line.strip() for line in result.stdout.splitlines() if "A.swift:" in line]
    assert [line.split(": ", 1)[1] for line in listed] == [
        "public var missing: Int            // undocumented (a trailing comment is not a doc comment)",
        "public private(set) var alsoMissing = 0",
        "func b()                           // undocumented requirement",
        "public final class Bare {}",
    ]


def test_passes_at_the_baseline_and_a_missing_module_means_zero(tmp_path: Path) -> None:
    assert run(tmp_path, "Mod 4\n").returncode == 0
    assert run(tmp_path, "# nothing listed\n").returncode == 1


def test_the_repository_is_within_its_baselines() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
