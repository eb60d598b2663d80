"""Log records as JSON lines, for log collectors that read fields.

Each record becomes one JSON object on one line: ``time`` (ISO 8601, UTC),
``level``, ``logger`` and ``message`` (the formatted text), then the fields
that djqueue's consumer passes with its records where they apply
(:data:`FIELDS`: the message id, command, queue, attempt and outcome of a
run, and the consumer process of a supervisor), and ``exception`` with the
formatted traceback when the record has one. Values that JSON cannot hold
are written as their ``str()``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

#: The fields of a record's ``extra`` that are written when present.
FIELDS = ("message_id", "command", "queue", "attempt", "outcome", "worker_id")


class JsonFormatter(logging.Formatter):
    """Format each record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)
