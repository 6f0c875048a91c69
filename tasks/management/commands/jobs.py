"""`manage.py jobs`: the job engine at the operator's shell (docs/jobs.md, "Operating it").

    jobs list [--status S] [--kind K] [--limit N]   newest first
    jobs stats                                      counts by status and kind, the queue's age
    jobs requeue ID [ID ...]                        run ended jobs again
    jobs requeue --all-dead [--kind K]              every dead letter (of one kind)
    jobs sweep                                      one pass of the periodic sweep, now

Writes go through the same services as the API and the admin (`job_requeue`, `jobs_sweep`);
the operator at the shell is the actor (None in the audit trail). A refusal is a line on
stderr, and the command then exits 1 after doing what it could.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from config.core.errors import DomainError
from tasks.models import JobStatus
from tasks.selectors import job_list_all, job_stats
from tasks.services import job_requeue, jobs_sweep

ERROR_SHOWN_CHARACTERS = 60


class Command(BaseCommand):
    help = (
        "Operate the job engine: list jobs, show counts and the queue's age, requeue dead "
        "letters, run the sweep once. Refusals go to stderr and exit 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        listing = actions.add_parser("list", help="Jobs, newest first.")
        listing.add_argument("--status", choices=JobStatus.values)
        listing.add_argument("--kind", help="Only jobs of this kind.")
        listing.add_argument("--limit", type=int, default=50, help="At most this many (50).")

        actions.add_parser("stats", help="Jobs by status and kind; how long the queue waits.")

        requeue = actions.add_parser(
            "requeue", help="Run dead, failed or cancelled jobs again from scratch."
        )
        requeue.add_argument("ids", nargs="*", metavar="ID", help="Job ids.")
        requeue.add_argument("--all-dead", action="store_true", help="Every dead job.")
        requeue.add_argument("--kind", help="With --all-dead: only dead jobs of this kind.")

        actions.add_parser(
            "sweep",
            help="Revive jobs of dead workers, re-send lost messages, send parked jobs, now.",
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    # --- list and stats -----------------------------------------------------------------------

    def _list(self, *, status: str | None, kind: str | None, limit: int, **_: Any) -> None:
        if limit < 1:
            raise CommandError("--limit must be 1 or more.")
        jobs = list(job_list_all(status=status, kind=kind)[: limit + 1])
        if not jobs:
            self.stdout.write("No jobs.")
            return
        rows = [
            (
                str(job.pk),
                job.kind,
                job.status,
                job.priority,
                job.owner.username,
                f"{job.attempts}/{job.max_attempts}",
                _when(job.created_at),
                _shortened(job.error),
            )
            for job in jobs[:limit]
        ]
        header = ("ID", "KIND", "STATUS", "PRIORITY", "OWNER", "TRIES", "CREATED", "ERROR")
        self._table(header, rows)
        if len(jobs) > limit:
            self.stdout.write(f"(more than {limit}; narrow with --status/--kind or --limit)")

    def _stats(self, **_: Any) -> None:
        stats = job_stats()
        if not stats.counts:
            self.stdout.write("No jobs.")
            return
        statuses = JobStatus.values
        kinds = sorted({kind for _, kind in stats.counts})
        rows = []
        for kind in kinds:
            counts = [stats.counts.get((status, kind), 0) for status in statuses]
            rows.append((kind, *map(str, counts), str(sum(counts))))
        totals = [sum(n for (s, _), n in stats.counts.items() if s == st) for st in statuses]
        rows.append(("(all)", *map(str, totals), str(sum(totals))))
        self._table(("KIND", *(status.upper() for status in statuses), "TOTAL"), rows)
        self.stdout.write("")
        if stats.oldest_due_at is None:
            self.stdout.write("Oldest queued job: none is waiting.")
        else:
            waited = (timezone.now() - stats.oldest_due_at).total_seconds()
            self.stdout.write(
                f"Oldest queued job: due {_age(waited)} ago ({_when(stats.oldest_due_at)})."
            )
        self.stdout.write(f"Parked (queued, not on the broker): {stats.parked}.")
        self.stdout.write(
            f"Stale leases (their worker died; the sweep revives them): {stats.stale}."
        )

    # --- requeue and sweep --------------------------------------------------------------------

    def _requeue(self, *, ids: list[str], all_dead: bool, kind: str | None, **_: Any) -> None:
        if all_dead == bool(ids):
            raise CommandError("Give job ids, or --all-dead (not both).")
        if kind and not all_dead:
            raise CommandError("--kind goes with --all-dead.")
        if all_dead:
            dead = job_list_all(status=JobStatus.DEAD, kind=kind).order_by("finished_at")
            ids = [str(pk) for pk in dead.values_list("pk", flat=True)]
            if not ids:
                self.stdout.write("No dead jobs" + (f" of kind {kind}." if kind else "."))
                return
        refused = 0
        for job_id in ids:
            try:
                job = job_requeue(actor=None, job_id=job_id)
            except DomainError as error:
                refused += 1
                self.stderr.write(f"{job_id}: {error.message}")
                continue
            if not all_dead:
                self.stdout.write(f"{job.pk} ({job.kind}) requeued.")
        requeued = len(ids) - refused
        if all_dead:
            of_kind = f" of kind {kind}" if kind else ""
            self.stdout.write(f"Requeued {requeued} dead job(s){of_kind}.")
        if refused:
            raise CommandError(f"{refused} of {len(ids)} job(s) not requeued.")

    def _sweep(self, **_: Any) -> None:
        report = jobs_sweep()
        self.stdout.write(
            f"Revived {report.revived} job(s) whose worker died, re-sent {report.redispatched} "
            f"the broker lost, sent {report.released} waiting job(s) to the broker."
        )

    def _table(self, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _shortened(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= ERROR_SHOWN_CHARACTERS:
        return line
    return line[: ERROR_SHOWN_CHARACTERS - 1] + "…"


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size, smaller, smaller_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "min", 60),
        ("min", 60, "s", 1),
    ):
        if seconds >= size:
            rest = (seconds % size) // smaller_size
            return f"{seconds // size} {unit} {rest} {smaller}"
    return f"{seconds} s"
