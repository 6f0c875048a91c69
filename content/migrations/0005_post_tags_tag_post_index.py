"""The join table of posts and tags, by tag then post: `?tag=` reads a tag's post ids from
this index alone (an index-only scan), where the (tag) index made it visit every tagged row."""

from django.db import migrations

INDEX = "content_post_tags_tag_post"


class Migration(migrations.Migration):
    dependencies = [
        ("content", "0004_uploads_attachments_sessions"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON content_post_tags (tag_id, post_id)",
            f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
