"""PostgreSQL only: keep `search_vector` current from title and body, with a GIN index.

A trigger rather than a generated column, so Django's INSERT and UPDATE statements, which
name every column, stay valid; on SQLite the column stays NULL and search falls back to LIKE.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION content_post_search_vector_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.body, '')), 'B');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER content_post_search_vector
BEFORE INSERT OR UPDATE OF title, body, search_vector ON content_post
FOR EACH ROW EXECUTE FUNCTION content_post_search_vector_update();

UPDATE content_post SET search_vector =
    setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
    setweight(to_tsvector('english', coalesce(body, '')), 'B');

CREATE INDEX content_post_search_vector_gin ON content_post USING GIN (search_vector)
    WHERE deleted_at IS NULL;
"""

DROP = """
DROP INDEX IF EXISTS content_post_search_vector_gin;
DROP TRIGGER IF EXISTS content_post_search_vector ON content_post;
DROP FUNCTION IF EXISTS content_post_search_vector_update();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("content", "0001_posts_comments_tags")]

    operations = [migrations.RunPython(create, drop)]
