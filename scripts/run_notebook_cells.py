#!/usr/bin/env python3
"""Start a Jupyter kernel with jupyter_client, execute a script's cells in it, print the outputs.

Usage: run_notebook_cells.py [--kernel mirage] [--timeout 60] SCRIPT.mirage

Cells are separated by lines starting with `#%%` (or `// %%`); without markers each non-blank
line is a cell. Exits non-zero if the kernel fails to start or a cell errors.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from queue import Empty

from jupyter_client.manager import start_new_kernel

MARKER = re.compile(r"^\s*(#|//)\s*%%")


def split_cells(text: str) -> list[str]:
    lines = text.splitlines()
    if any(MARKER.match(line) for line in lines):
        cells, cur = [], []
        for line in lines:
            if MARKER.match(line):
                cells.append("\n".join(cur))
                cur = []
            else:
                cur.append(line)
        cells.append("\n".join(cur))
        return [c.strip("\n") for c in cells if c.strip()]
    return [line for line in lines if line.strip()]


def describe(msg: dict) -> str | None:
    t, c = msg["msg_type"], msg["content"]
    if t == "stream":
        return f"[{c['name']}] {c['text'].rstrip()}"
    if t in ("execute_result", "display_data", "update_display_data"):
        data = c["data"]
        parts = []
        for mime, value in data.items():
            if mime.startswith("image/"):
                raw = base64.b64decode(value) if isinstance(value, str) else b""
                parts.append(f"{mime} ({len(raw)} bytes)")
            elif mime == "text/plain":
                parts.append(repr(value) if "\n" in value else value)
            else:
                parts.append(f"{mime} ({len(str(value))} chars)")
        label = "Out" if t == "execute_result" else "display"
        return f"[{label}] " + "; ".join(parts)
    if t == "error":
        return f"[error] {c['ename']}: {c['evalue']}"
    if t == "clear_output":
        return "[clear_output]"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("script")
    ap.add_argument("--kernel", default="mirage")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    with open(args.script) as f:
        cells = split_cells(f.read())
    km, kc = start_new_kernel(kernel_name=args.kernel, startup_timeout=args.timeout)
    failed = False
    try:
        reply = kc.kernel_info(reply=True, timeout=args.timeout)
        li = reply["content"].get("language_info", {})
        print(f"kernel {args.kernel!r}: {reply['content'].get('implementation')} "
              f"{reply['content'].get('implementation_version', '')}, language {li.get('name')}, "
              f"protocol {reply['content'].get('protocol_version')}")
        for cell in cells:
            print(f"\n>>> {cell}")

            def show(msg: dict) -> None:
                line = describe(msg)
                if line:
                    print(line)

            reply = kc.execute_interactive(cell, timeout=args.timeout, output_hook=show, allow_stdin=False)
            if reply["content"]["status"] != "ok":
                failed = True
    finally:
        kc.stop_channels()
        km.shutdown_kernel()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
