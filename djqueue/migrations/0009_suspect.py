"""Messages whose last run lost its worker are marked suspect when their lease
is reclaimed, and claimed apart (to run alone): the claim index takes the mark
between the state and the priority, so both claims follow it, and ends with
the id, the claim's last sort key, so that a claim reads the first rows of
the index instead of sorting every ready row."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("djqueue", "0008_lock_key"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="messagerecord",
            name="djqueue_claim",
        ),
        migrations.AddField(
            model_name="messagerecord",
            name="suspect",
            field=models.BooleanField(
                db_default=False, default=False, verbose_name="suspect"
            ),
        ),
        migrations.AddIndex(
            model_name="messagerecord",
            index=models.Index(
                fields=["queue", "state", "suspect", "-priority", "eta", "id"],
                name="djqueue_claim",
            ),
        ),
    ]
