from django.db import models


class Report(models.Model):
    """Something a command works on, passed to it by reference."""

    title = models.CharField(max_length=100)
    words = models.PositiveIntegerField(default=0)
    churned = models.PositiveIntegerField(default=0)

    def __str__(self):
        return self.title


class Run(models.Model):
    """One run of a command, recorded so tests can count runs per message."""

    message_id = models.CharField(max_length=36, db_index=True)
    attempt = models.PositiveIntegerField()
    pid = models.PositiveIntegerField()
    label = models.CharField(max_length=100, blank=True, default="")
    finished = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.message_id} attempt {self.attempt}"
