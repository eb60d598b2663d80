"""On PostgreSQL, NOTIFY a queue's channel when one of its messages becomes
ready, in the transaction that makes it ready, so that waiting consumers wake
when it commits (see ``djqueue.backends.database.pg_notify``). Other
databases get nothing: their consumers poll."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import migrations

if TYPE_CHECKING:
    from django.apps.registry import Apps as StateApps
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor

CREATE = """
CREATE OR REPLACE FUNCTION djqueue_message_ready() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('djqueue_' || md5(NEW.queue), NEW.queue);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER djqueue_message_ready_insert
    AFTER INSERT ON djqueue_message
    FOR EACH ROW WHEN (NEW.state = 'queued')
    EXECUTE FUNCTION djqueue_message_ready();

CREATE OR REPLACE TRIGGER djqueue_message_ready_update
    AFTER UPDATE OF state ON djqueue_message
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
    EXECUTE FUNCTION djqueue_message_ready();
"""

DROP = """
DROP TRIGGER IF EXISTS djqueue_message_ready_update ON djqueue_message;
DROP TRIGGER IF EXISTS djqueue_message_ready_insert ON djqueue_message;
DROP FUNCTION IF EXISTS djqueue_message_ready();
"""


def create_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("djqueue", "0005_permissions"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
