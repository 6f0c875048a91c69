"""Walk the audit hash chain and say whether any record was altered, removed or reordered."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audits.chain import chain_verify
from audits.services import audit_chain_seal

ANCHOR_PATTERN = re.compile(r"(?P<sequence>[0-9]+):(?P<hash>[0-9a-f]{64})")
PROBLEMS_SHOWN = 20


def _anchor(text: str) -> tuple[int, str]:
    match = ANCHOR_PATTERN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not SEQUENCE:HASH: {text!r}")
    return int(match["sequence"]), match["hash"]


class Command(BaseCommand):
    help = (
        "Verify the audit hash chain. Exits 0 with a summary when intact; otherwise exits 1 "
        "and names the first bad record (id, sequence and what is wrong). Seals the records "
        "awaiting their seal first, unless --no-seal; any left unsealed are reported, not "
        "counted as problems."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            type=_anchor,
            metavar="SEQUENCE:HASH",
            help=(
                "A head printed by an earlier run and kept outside the database; the record "
                "with that sequence must still have that hash. Repeatable."
            ),
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=2000,
            help="Records fetched per round trip while streaming (default 2000).",
        )
        parser.add_argument(
            "--no-seal",
            action="store_true",
            help="Only verify: do not seal the committed records still awaiting their seal.",
        )

    def handle(self, *args: Any, anchor: list[tuple[int, str]], **options: Any) -> None:
        if not options["no_seal"]:
            audit_chain_seal()
        report = chain_verify(anchors=anchor, chunk_size=options["chunk_size"])
        if report.unsealed:
            self.stdout.write(f"{report.unsealed} records awaiting their seal.")
        first = report.first_problem
        if first is None:
            self.stdout.write(
                f"Audit chain intact: {report.records} records ({report.redacted} redacted). "
                f"Head {report.last_sequence}:{report.last_hash}"
            )
            return
        ordered = sorted(report.problems, key=lambda p: (p.sequence is None, p.sequence or 0))
        for problem in ordered[:PROBLEMS_SHOWN]:
            self.stderr.write(f"- {problem}")
        if report.problem_count > PROBLEMS_SHOWN:
            self.stderr.write(f"… and {report.problem_count - PROBLEMS_SHOWN} more.")
        raise CommandError(
            f"Audit chain broken ({report.problem_count} problem(s) in {report.records} "
            f"records). First bad {first}",
            returncode=1,
        )
