from django.db import models


class Report(models.Model):
    body = models.TextField()
    word_count = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"Report {self.pk}"
