"""Accounts that already had the user or admin role proved themselves before verification existed."""

from django.db import migrations


def mark_members_verified(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.filter(role__in=["user", "admin"]).update(email_verified=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_auth_sessions_lockout_api_keys_tickets")]

    operations = [migrations.RunPython(mark_members_verified, migrations.RunPython.noop)]
