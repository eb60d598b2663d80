from decimal import Decimal

from djqueue import queue_command

from .models import Report


@queue_command
def count_words(report: Report, factor: Decimal = Decimal("1.5")):
    report.word_count = int(len(report.body.split()) * factor)
    report.save(update_fields=["word_count"])
    return report.word_count
