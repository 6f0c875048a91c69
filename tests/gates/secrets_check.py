"""No secret-looking literal is committed (`make secrets`; CI runs it).

    python -m tests.gates.secrets_check

detect-secrets scans every file git tracks with the plugins and filters recorded in
`.secrets.baseline`. The baseline lists the literals already reviewed (test passwords, example
tokens of the OpenAPI document, URL placeholders in the docs), each marked `is_secret: false`
by a person. The check fails on a finding the baseline does not know, and on a baseline entry
nobody has reviewed yet (or one marked as a real secret: remove the secret, then the entry).

Findings are matched by file, type and hashed value, not by line: editing a file around a known
literal does not fail the check. To accept a new false positive:

    .venv/bin/detect-secrets scan --baseline .secrets.baseline   # adds it, keeps the reviews
    .venv/bin/detect-secrets audit .secrets.baseline             # mark it: not a secret
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from detect_secrets.core import baseline
from detect_secrets.core.secrets_collection import SecretsCollection

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / ".secrets.baseline"


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    names = listing.stdout.decode().split("\0")
    return [name for name in names if name and name != BASELINE.name and (ROOT / name).is_file()]


def unreviewed(results: dict[str, list[dict]]) -> list[str]:
    """Baseline entries nobody marked as a false positive."""
    return [
        f"{filename}:{entry['line_number']} {entry['type']}"
        for filename, entries in results.items()
        for entry in entries
        if entry.get("is_secret") is not False
    ]


def main() -> int:
    # Findings name their files as the baseline does, relative to the repository's root.
    os.chdir(ROOT)
    recorded = baseline.load_from_file(str(BASELINE))
    # Loading the baseline also configures the plugins and filters it was made with.
    known = baseline.load(recorded, str(BASELINE))
    found = SecretsCollection()
    files = tracked_files()
    found.scan_files(*files)
    new = found - known
    failed = False
    if new:
        failed = True
        print("Secret-looking literals not in .secrets.baseline:")
        for filename, secret in new:
            print(f"  {filename}:{secret.line_number} {secret.type}")
        print("Remove a real secret (and rotate it). For a false positive see `make secrets`'s")
        print("note in docs/operations.md: scan into the baseline, then audit it.")
    pending = unreviewed(json.loads(BASELINE.read_text())["results"])
    if pending:
        failed = True
        print("Baseline entries not reviewed, or marked as real secrets:")
        for line in pending:
            print(f"  {line}")
        print("Review them with `.venv/bin/detect-secrets audit .secrets.baseline`.")
    if failed:
        return 1
    print(f"detect-secrets: {len(files)} tracked files, no unreviewed secret-looking literal.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
