"""What the database says about a load run's writes: `python -m tests.load.facts < request.json`
with the server's environment (settings, DATABASE_URL). Prints one JSON object for
tests/load/check.py. Seals the audit records still awaiting their seal, then verifies the chain
(audits.chain.chain_verify, as `manage.py verify_audit_chain` does)."""

from __future__ import annotations

import json
import sys
from collections import Counter

import django

AUDITED = (
    "user.registered",
    "user.email_verified",
    "user.login_succeeded",
    "post.created",
    "comment.created",
)


def main() -> None:
    django.setup()
    from accounts.models import User
    from audits.chain import chain_verify
    from audits.models import AuditRecord
    from audits.services import audit_chain_seal
    from content.models import Comment, Post
    from realtime.models import Notification
    from tasks.models import Job

    request = json.load(sys.stdin)
    users = {
        user.username: {"id": str(user.pk), "email_verified": user.email_verified}
        for user in User.objects.filter(username__in=request["usernames"])
    }
    posts = {
        str(pk) for pk in Post.objects.filter(pk__in=request["posts"]).values_list("pk", flat=True)
    }
    comments = {
        str(pk)
        for pk in Comment.objects.filter(pk__in=request["comments"]).values_list("pk", flat=True)
    }
    audits = Counter(
        f"{action} {target}"
        for action, target in AuditRecord.objects.filter(action__in=AUDITED).values_list(
            "action", "target_id"
        )
    )
    jobs = {
        str(job["id"]): {"status": job["status"], "attempts": job["attempts"]}
        for job in Job.objects.filter(pk__in=request["jobs"]).values("id", "status", "attempts")
    }
    finished = Counter(
        data["job"]["id"]
        for data in Notification.objects.filter(kind="job_finished").values_list("data", flat=True)
    )
    audit_chain_seal()
    report = chain_verify()
    first = report.first_problem
    json.dump(
        {
            "users": users,
            "posts": sorted(posts),
            "comments": sorted(comments),
            "audits": dict(audits),
            "jobs": jobs,
            "job_notifications": {job: finished[job] for job in jobs},
            "chain": {
                "records": report.records,
                "unsealed": report.unsealed,
                "problems": report.problem_count,
                "first_problem": str(first) if first else None,
            },
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
