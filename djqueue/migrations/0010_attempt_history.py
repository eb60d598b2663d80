"""A message's ``attempt_errors`` hold the history of its attempts that did
not succeed (retried, failed, or lost with their worker), each with its
worker and start, kept through retries from the admin. The column is the
same; only its name in forms changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("djqueue", "0009_suspect"),
    ]

    operations = [
        migrations.AlterField(
            model_name="messagerecord",
            name="attempt_errors",
            field=models.JSONField(
                default=list, verbose_name="history of the attempts"
            ),
        ),
    ]
