"""Beat's scheduler: the periodic tasks live in the database, editable in the admin.

django_celery_beat's `DatabaseScheduler` copies `CELERY_BEAT_SCHEDULE` into `PeriodicTask`
rows every time beat starts, with `update_or_create`: a row an operator changed in the admin
(another interval, a crontab) is overwritten with the settings' value at the next restart; only
`enabled` is left alone (django-celery-beat issue #153, open since 2018; measured with 2.9.0).

This scheduler seeds instead: an entry of `CELERY_BEAT_SCHEDULE` becomes a row when no row of
its name exists, and an existing row is left as it is. So the admin is the schedule once beat
has started: edits and disabled tasks survive restarts, and a deleted row comes back from the
settings at the next start (the way back to the default). Everything else (reading the rows,
noticing edits while beat runs) is django_celery_beat's own.
"""

from __future__ import annotations

from typing import Any

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry


class SeedingModelEntry(ModelEntry):
    @classmethod
    def from_entry(cls, name: str, app: Any = None, **entry: Any) -> ModelEntry:
        """The row of this name as the admin left it; created from `entry` if missing."""
        row = PeriodicTask.objects.filter(name=name).first()
        if row is None:
            row, _ = PeriodicTask.objects.get_or_create(
                name=name, defaults=cls._unpack_fields(**entry)
            )
        return cls(row, app=app)


class SeedingDatabaseScheduler(DatabaseScheduler):
    """`CELERY_BEAT_SCHEDULER`: settings seed the schedule, the admin owns it."""

    Entry = SeedingModelEntry
