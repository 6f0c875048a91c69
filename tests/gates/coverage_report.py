"""Line coverage per app from the data the suite runs saved (`make coverage`; CI runs it).

    python -m tests.gates.coverage_report

Reads var/coverage/.coverage (pyproject's [tool.coverage.run]: the apps, server and worker
subprocesses included), prints statements, missed lines and coverage for each app and the
total, and exits non-zero when the total is under `fail_under` ([tool.coverage.report]). CI
combines both suite runs (embedded, then PostgreSQL and Redis) into that one data file with
`--cov-append`, since each mode runs code the other cannot (the SQLite and in-memory fallbacks,
the PostgreSQL and Redis paths). `coverage report` or `coverage html` show the files.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import coverage

APPS = ("config", "accounts", "content", "audits", "realtime", "tasks")


def per_app(files: dict[str, dict]) -> dict[str, tuple[int, int]]:
    """App -> (statements, missed lines), from coverage's JSON report of files."""
    totals = dict.fromkeys(APPS, (0, 0))
    for name, data in files.items():
        app = Path(name).parts[0]
        statements, missed = totals[app]
        summary = data["summary"]
        totals[app] = (statements + summary["num_statements"], missed + summary["missing_lines"])
    return totals


def percent(statements: int, missed: int) -> float:
    return 100.0 * (statements - missed) / statements if statements else 100.0


def main() -> int:
    cov = coverage.Coverage()
    cov.load()
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        cov.json_report(outfile=output.name)
        files = json.loads(Path(output.name).read_text())["files"]
    totals = per_app(files)
    print(f"{'app':<10} {'statements':>10} {'missed':>7} {'lines':>7}")
    for app, (statements, missed) in totals.items():
        print(f"{app:<10} {statements:>10} {missed:>7} {percent(statements, missed):>6.1f}%")
    statements = sum(value[0] for value in totals.values())
    missed = sum(value[1] for value in totals.values())
    total = percent(statements, missed)
    print(f"{'total':<10} {statements:>10} {missed:>7} {total:>6.1f}%")
    floor = float(cov.get_option("report:fail_under") or 0)
    if total < floor:
        print(f"Coverage {total:.1f}% is under the floor of {floor:g}% (pyproject.toml).")
        return 1
    print(f"Coverage {total:.1f}% meets the floor of {floor:g}%.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
