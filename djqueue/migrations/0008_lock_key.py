"""Lock keys: a message's ``lock_key``, held in ``lock_held`` while it runs.

On PostgreSQL, a message that gives up its hold NOTIFYs its queue's channel
(as ``0006_ready_notify`` does for a message becoming ready), so that
consumers waiting while every ready message's key was held wake when it
commits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import migrations, models

if TYPE_CHECKING:
    from django.apps.registry import Apps as StateApps
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor

CREATE = """
CREATE OR REPLACE FUNCTION djqueue_message_unlocked() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('djqueue_' || md5(OLD.queue), OLD.queue);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER djqueue_message_unlocked_update
    AFTER UPDATE OF lock_held ON djqueue_message
    FOR EACH ROW WHEN (OLD.lock_held IS NOT NULL AND NEW.lock_held IS NULL)
    EXECUTE FUNCTION djqueue_message_unlocked();

CREATE OR REPLACE TRIGGER djqueue_message_unlocked_delete
    AFTER DELETE ON djqueue_message
    FOR EACH ROW WHEN (OLD.lock_held IS NOT NULL)
    EXECUTE FUNCTION djqueue_message_unlocked();
"""

DROP = """
DROP TRIGGER IF EXISTS djqueue_message_unlocked_delete ON djqueue_message;
DROP TRIGGER IF EXISTS djqueue_message_unlocked_update ON djqueue_message;
DROP FUNCTION IF EXISTS djqueue_message_unlocked();
"""


def create_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("djqueue", "0007_attempt_errors"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagerecord",
            name="lock_key",
            field=models.CharField(max_length=255, null=True, verbose_name="lock key"),
        ),
        migrations.AddField(
            model_name="messagerecord",
            name="lock_held",
            field=models.CharField(max_length=255, null=True),
        ),
        migrations.AddConstraint(
            model_name="messagerecord",
            constraint=models.UniqueConstraint(
                fields=("queue", "lock_held"), name="djqueue_lock_held"
            ),
        ),
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
