"""Known vulnerabilities in the pinned dependencies (`make audit`; CI runs it).

    python -m tests.gates.audit_deps            # fails on a known vulnerability
    python -m tests.gates.audit_deps --strict   # also fails when a pin could not be audited

pip-audit checks every pin of requirements.txt and requirements-dev.txt (both pin every
transitive dependency, so `--no-deps --disable-pip`: no resolver, no virtualenv) against
PyPI's vulnerability data (`-s pypi`, the release's JSON page on pypi.org). Advisories we
accept are listed, each with its reason, in tests/gates/pip_audit_ignore.txt.

Where pypi.org does not serve the release pages (this machine reaches PyPI through a mirror
that answers only the project pages `/pypi/<name>/json`), pip-audit reports every pin as "not
found" and would pass having checked nothing. The pins it skipped are then checked against the
project page, whose `vulnerabilities` are those of the project's latest release: exact for a
pin that is the latest release, which most of ours are. A pin behind the latest release cannot
be checked that way; it is listed as not audited (and fails the run with `--strict`), so the
gap is visible, never silent. Only pypi.org is contacted.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = (ROOT / "requirements.txt", ROOT / "requirements-dev.txt")
IGNORE_FILE = Path(__file__).with_name("pip_audit_ignore.txt")
PYPI_PROJECT = "https://pypi.org/pypi/{name}/json"
TIMEOUT_SECONDS = 15
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")


@dataclass
class Outcome:
    """What the audit found: vulnerable pins, and the pins it could not audit (with why)."""

    vulnerable: list[tuple[str, str, str, str]] = field(default_factory=list)
    audited: int = 0
    not_audited: list[tuple[str, str, str]] = field(default_factory=list)


def read_pins(files: tuple[Path, ...] = REQUIREMENTS) -> dict[str, str]:
    """Canonical name -> pinned version, from `name==version` lines (`-r` lines are skipped:
    every file is read anyway)."""
    pins: dict[str, str] = {}
    for path in files:
        for line in path.read_text().splitlines():
            match = PIN.match(line.strip())
            if match:
                pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def read_ignored(path: Path = IGNORE_FILE) -> dict[str, str]:
    """Advisory id -> reason, from `ID  reason…` lines; an id without a reason is refused."""
    ignored: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        advisory, _, reason = text.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path.name}:{number}: {advisory} needs a reason after its id")
        ignored[advisory] = reason.strip()
    return ignored


def run_pip_audit(ignored: dict[str, str]) -> dict:
    """pip-audit's JSON report over both requirement files."""
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--vulnerability-service",
        "pypi",
        "--no-deps",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--timeout",
        str(TIMEOUT_SECONDS),
    ]
    for path in REQUIREMENTS:
        command += ["--requirement", str(path)]
    for advisory in ignored:
        command += ["--ignore-vuln", advisory]
    # pip-audit exits 1 when it finds a vulnerability: the report says which, so read it.
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"pip-audit failed (exit {result.returncode}) without a report") from None


def check_project_page(
    session: requests.Session, name: str, version: str, ignored: dict[str, str]
) -> tuple[list[tuple[str, str]], str | None]:
    """(vulnerabilities as (id, fixed in), None) for a pin that is the project's latest
    release; ([], why not) when the project page cannot tell."""
    try:
        response = session.get(PYPI_PROJECT.format(name=name), timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        return [], f"pypi.org unreachable: {type(error).__name__}"
    if response.status_code != 200:
        return [], f"project page answered {response.status_code}"
    page = response.json()
    latest = page["info"]["version"]
    if version != latest:
        return [], f"behind the latest release {latest}: its advisories are not served here"
    found = []
    for advisory in page.get("vulnerabilities") or []:
        ids = {advisory["id"], *(advisory.get("aliases") or [])}
        if advisory.get("withdrawn") or ids & ignored.keys():
            continue
        found.append((advisory["id"], ", ".join(advisory.get("fixed_in") or []) or "no fix"))
    return found, None


def audit() -> Outcome:
    ignored = read_ignored()
    pins = read_pins()
    report = run_pip_audit(ignored)
    outcome = Outcome()
    skipped: list[str] = []
    for dependency in report["dependencies"]:
        name = canonicalize_name(dependency["name"])
        if "skip_reason" in dependency:
            skipped.append(name)
            continue
        outcome.audited += 1
        for vuln in dependency.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix"
            outcome.vulnerable.append((name, dependency["version"], vuln["id"], fixed))
    with requests.Session() as session:
        for name in skipped:
            version = pins[name]
            found, why_not = check_project_page(session, name, version, ignored)
            if why_not:
                outcome.not_audited.append((name, version, why_not))
                continue
            outcome.audited += 1
            outcome.vulnerable += [(name, version, advisory, fix) for advisory, fix in found]
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--strict", action="store_true", help="fail when a pin could not be audited"
    )
    args = parser.parse_args()
    outcome = audit()
    total = outcome.audited + len(outcome.not_audited)
    print(f"pip-audit: {outcome.audited} of {total} pinned packages audited.")
    for name, version, why_not in outcome.not_audited:
        print(f"  not audited: {name}=={version} ({why_not})")
    for advisory, reason in read_ignored().items():
        print(f"  ignored: {advisory} ({reason})")
    if outcome.vulnerable:
        print("Known vulnerabilities (upgrade the pin to a fixed version, or ignore the advisory")
        print(f"with its reason in {IGNORE_FILE.relative_to(ROOT)}):")
        for name, version, advisory, fixed in outcome.vulnerable:
            print(f"  {name}=={version}: {advisory} (fixed in {fixed})")
        return 1
    if args.strict and outcome.not_audited:
        print("--strict: some pins could not be audited.")
        return 1
    print("No known vulnerability in the pins that were audited.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
