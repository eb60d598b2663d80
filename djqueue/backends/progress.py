"""The optional progress part: what a running command reports of its run,
stored on its message for the handle and the admin to read.

A backend that derives from :class:`ProgressReports` supports it
(``supports_progress`` is True); on a queue of another backend a command's
``set_progress()`` and ``set_meta()`` still check their values, and nothing
is stored. The stored text is the JSON of
:mod:`djqueue.envelope.progress`, which the backend keeps without reading.
"""

from __future__ import annotations

from abc import abstractmethod

from ..envelope.message import Message
from .base import BaseQueue


class ProgressReports(BaseQueue):
    """Progress written to leased messages, read back with them."""

    # Whether set_progress() stores a running command's progress.
    supports_progress = True

    @abstractmethod
    def set_progress(self, message: Message, progress: str) -> bool:
        """Store ``progress`` on ``message`` if its lease is still held (it
        is ``running`` under its ``lease_token``), with the same check as
        :meth:`ack`; return False, changing nothing, if the lease was lost,
        so that a worker whose lease expired never overwrites the progress
        of a newer attempt.

        :meth:`get` returns the message with it (``Message.progress``), and
        it is kept while the message runs and once it is ``done`` or
        ``failed``. It is cleared when the message goes back to wait for
        another attempt: :meth:`retry_later`, :meth:`release`, a reclaim
        that requeues it, and an operator's retry."""
