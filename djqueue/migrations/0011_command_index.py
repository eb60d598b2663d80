"""The admin's lists and scans filtered by command read an index on queue,
state and command instead of every row of the state."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("djqueue", "0010_attempt_history"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="messagerecord",
            index=models.Index(
                fields=["queue", "state", "command"], name="djqueue_command"
            ),
        ),
    ]
