"""The progress and metadata a running command reports, kept on its row
(empty for none; see djqueue.envelope.progress). A default in the database
too, so that adding the column writes no row on PostgreSQL."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("djqueue", "0014_queue_pause"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagerecord",
            name="progress",
            field=models.TextField(
                blank=True, db_default="", default="", verbose_name="progress"
            ),
        ),
    ]
