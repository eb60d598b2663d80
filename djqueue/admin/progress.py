"""What the admin shows of the progress a running command reported: a bar
when the total is known, the note, and the metadata as JSON."""

from __future__ import annotations

import dataclasses
import json

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from ..envelope.message import Message
from ..envelope.progress import Progress, decode_progress


@dataclasses.dataclass(frozen=True)
class ShownProgress:
    """A message's progress as the pages show it."""

    progress: Progress
    #: "3 of 10 (30 %)", or "3 done" without a total.
    summary: str
    #: The metadata as indented JSON, or "" for none.
    meta_json: str


def shown_progress(message: Message) -> ShownProgress | None:
    """The progress of ``message`` for the pages, or None if it has none."""
    progress = decode_progress(message.progress)
    if progress is None:
        return None
    done = number_format(progress.done, force_grouping=True)
    if progress.total is None:
        summary = _("%(done)s done") % {"done": done}
    else:
        summary = _("%(done)s of %(total)s (%(percent)s %%)") % {
            "done": done,
            "total": number_format(progress.total, force_grouping=True),
            "percent": progress.percent,
        }
    meta = json.dumps(progress.meta, indent=2, sort_keys=True) if progress.meta else ""
    return ShownProgress(progress, summary, meta)
