"""Job kinds only the tests (and the job benches) register, through JOB_EXTRA_KINDS.

- `noop`: does nothing; the throughput bench's job.
- `steps`: `steps` steps of `seconds` each, reporting progress after each (cancellable).
- `flaky`: fails its first `failures` attempts, then succeeds; its backoff is a minute, so a
  test sees it parked however slow the machine, and makes it due itself.
- `broken`: always fails (ends dead); `refused`: fails in a way retrying cannot fix.
- `tally`: adds one to the tally file named by `name` once per run, after `seconds`: the
  effect the kill -9 tests count.
- `echo`: streams `text` as `job.output` chunks of `chunk` characters and stores it as its
  result file `echo.txt` (the API tests' job with output and a file).
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from config.core.errors import ValidationFailed
from tasks.kinds import JobFailed, JobKind
from tasks.runner import JobContext

TALLY_DIRECTORY = "job-tallies"


def _numbers(**fields: tuple[type, float]) -> Any:
    def clean(params: dict[str, Any], actor: Any) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for name, (kind, default) in fields.items():
            value = params.get(name, default)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                errors[name] = ["A number, zero or more."]
            else:
                cleaned[name] = kind(value)
        extra = set(params) - set(fields) - {"name", "tag"}
        errors.update({name: ["Unknown parameter."] for name in sorted(extra)})
        if errors:
            raise ValidationFailed(errors)
        cleaned.update({k: str(params[k]) for k in ("name", "tag") if k in params})
        return cleaned

    return clean


def _noop(context: JobContext) -> dict[str, Any]:
    return {"ok": True}


def _steps(context: JobContext) -> dict[str, Any]:
    steps = context.params["steps"]
    for step in range(steps):
        time.sleep(context.params["seconds"])
        context.progress(100 * (step + 1) / steps)
    return {"steps": steps}


def _flaky(context: JobContext) -> dict[str, Any]:
    if context.job.attempts <= context.params["failures"]:
        raise RuntimeError(f"attempt {context.job.attempts} fails on purpose")
    return {"attempts": context.job.attempts}


def _broken(context: JobContext) -> None:
    raise RuntimeError("this job always fails")


def _refused(context: JobContext) -> None:
    raise JobFailed("nothing to retry here")


def tally_path(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / TALLY_DIRECTORY / f"{name}.txt"


def _tally(context: JobContext) -> dict[str, Any]:
    time.sleep(context.params["seconds"])
    path = tally_path(context.params.get("name", "tally"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as tally:
        tally.write(f"{context.job.pk}\n")
    return {"tallied": True}


def _echo_clean(params: dict[str, Any], actor: Any) -> dict[str, Any]:
    text, chunk = params.get("text"), params.get("chunk", 8)
    errors: dict[str, list[str]] = {}
    if not isinstance(text, str) or not text:
        errors["text"] = ["Some text."]
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        errors["chunk"] = ["A positive integer."]
    errors.update(
        {name: ["Unknown parameter."] for name in sorted(set(params) - {"text", "chunk"})}
    )
    if errors:
        raise ValidationFailed(errors)
    return {"text": text, "chunk": chunk}


def _echo(context: JobContext) -> dict[str, Any]:
    text, size = context.params["text"], context.params["chunk"]
    chunks = [text[start : start + size] for start in range(0, len(text), size)]
    for chunk in chunks:
        context.output(chunk)
    context.save_result_file("echo.txt", io.BytesIO(text.encode()))
    return {"chunks": len(chunks)}


NOOP = JobKind(name="noop", clean=_numbers(), run=_noop)
STEPS = JobKind(name="steps", clean=_numbers(steps=(int, 3), seconds=(float, 0.1)), run=_steps)
FLAKY = JobKind(
    name="flaky", clean=_numbers(failures=(int, 1)), run=_flaky, retry_base_seconds=60.0
)
BROKEN = JobKind(name="broken", clean=_numbers(), run=_broken, retries=2, retry_base_seconds=0.05)
REFUSED = JobKind(name="refused", clean=_numbers(), run=_refused)
TALLY = JobKind(
    name="tally", clean=_numbers(seconds=(float, 0.0)), run=_tally, retry_base_seconds=0.05
)
ECHO = JobKind(name="echo", clean=_echo_clean, run=_echo)
