"""The table behind :class:`~djqueue.backends.database.DatabaseQueue`."""

from datetime import UTC, datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from .states import State


class MessageRecord(models.Model):
    """One message of a database-backed queue, in whatever state it is."""

    id = models.UUIDField(primary_key=True, editable=False)
    queue = models.CharField(_("queue"), max_length=100)
    command = models.CharField(_("command"), max_length=255)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    priority = models.IntegerField(_("priority"), default=0)
    eta = models.DateTimeField(_("ready at"))
    enqueued_at = models.DateTimeField(_("enqueued at"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveIntegerField(_("maximum attempts"), default=1)
    serializer = models.CharField(_("serializer"), max_length=32)
    payload = models.TextField(_("payload"))
    signature = models.CharField(_("signature"), max_length=128)
    options = models.JSONField(_("options"), default=dict)
    lease_token = models.CharField(max_length=32, blank=True, default="")
    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True)
    worker = models.CharField(_("worker"), max_length=255, blank=True, default="")
    started_at = models.DateTimeField(_("started at"), null=True)
    finished_at = models.DateTimeField(_("finished at"), null=True)
    # None means no result is kept; a kept result is never empty (it is signed).
    result = models.TextField(_("result"), null=True)  # noqa: DJ001
    error = models.TextField(_("error"), blank=True, default="")
    traceback = models.TextField(_("traceback"), blank=True, default="")
    expires_at = models.DateTimeField(_("expires at"), null=True)
    # The last attempts that did not succeed: see Message.attempt_errors.
    attempt_errors = models.JSONField(_("history of the attempts"), default=list)
    # Set only while the message is pending; NULLs never conflict.
    unique_key = models.CharField(_("unique key"), max_length=255, null=True)  # noqa: DJ001
    # The message's lock key; lock_held repeats it only while the message
    # runs, so the unique constraint lets one message per key run at once.
    lock_key = models.CharField(_("lock key"), max_length=255, null=True)  # noqa: DJ001
    lock_held = models.CharField(max_length=255, null=True)  # noqa: DJ001
    # Not started by then, it expires unrun (the expires option); NULL: never.
    deadline = models.DateTimeField(_("start by"), null=True)
    # Its last run lost its worker: claimed only to run alone (see claim_suspect).
    suspect = models.BooleanField(_("suspect"), default=False, db_default=False)
    # What the latest attempt reported of its run: see Message.progress.
    progress = models.TextField(_("progress"), blank=True, default="", db_default="")

    class Meta:
        db_table = "djqueue_message"
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        # The admin acts on messages of every backend through the inspection
        # API, not on rows: these permissions replace add/change/delete/view.
        default_permissions = ()
        permissions = [
            ("view_message", _("Can view queues and messages")),
            ("retry_message", _("Can retry failed messages")),
            ("run_message", _("Can run scheduled messages now")),
            ("cancel_message", _("Can cancel queued and scheduled messages")),
            ("delete_message", _("Can delete messages")),
            ("purge_queue", _("Can purge a state of a queue")),
            ("pause_queue", _("Can pause and resume a queue")),
        ]
        indexes = [
            # The claim: the next ready message of a queue in the claim's own
            # order (priority, eta, id), ordinary and suspect messages apart.
            models.Index(
                fields=["queue", "state", "suspect", "-priority", "eta", "id"],
                name="djqueue_claim",
            ),
            # The admin's lists and scans filtered by command.
            models.Index(fields=["queue", "state", "command"], name="djqueue_command"),
            # Promotion of due scheduled messages.
            models.Index(fields=["state", "eta"], name="djqueue_due"),
            # Housekeeping of finished messages whose retention ended.
            models.Index(fields=["expires_at"], name="djqueue_expiry"),
            # Housekeeping of messages not started by their deadline: only
            # the rows that have one, so other messages pay nothing for it
            # (MySQL and MariaDB have no partial index and go without).
            models.Index(
                fields=["deadline"],
                name="djqueue_deadline",
                condition=models.Q(deadline__isnull=False),
            ),
        ]
        constraints = [
            # One pending message per key and queue (NULLs never conflict).
            models.UniqueConstraint(
                fields=["queue", "unique_key"], name="djqueue_unique_pending"
            ),
            # One running message per lock key and queue; its index also
            # answers the claim's "is this key held?".
            models.UniqueConstraint(
                fields=["queue", "lock_held"], name="djqueue_lock_held"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.command} ({self.state})"


class PeriodicTick(models.Model):
    """The latest tick written for each periodic command, claimed atomically."""

    name = models.CharField(_("command"), max_length=255, primary_key=True)
    last_tick = models.DateTimeField(_("last tick"))

    class Meta:
        db_table = "djqueue_periodic_tick"
        verbose_name = _("periodic tick")
        verbose_name_plural = _("periodic ticks")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_tick}"


class ConsumerRecord(models.Model):
    """A ``run_queue`` process serving one queue, as of its last heartbeat."""

    queue = models.CharField(_("queue"), max_length=100)
    consumer_id = models.CharField(_("consumer"), max_length=255)
    info = models.JSONField(_("details"))
    alive_until = models.DateTimeField(_("alive until"))

    class Meta:
        db_table = "djqueue_consumer"
        verbose_name = _("consumer")
        verbose_name_plural = _("consumers")
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "consumer_id"], name="djqueue_consumer_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer_id} ({self.queue})"


class RunCount(models.Model):
    """Runs of one command on one queue that finished in one minute, or
    since statistics began when ``minute`` is :data:`TOTALS_MINUTE`."""

    queue = models.CharField(_("queue"), max_length=100)
    command = models.CharField(_("command"), max_length=255)
    minute = models.DateTimeField(_("minute"))
    done = models.PositiveBigIntegerField(_("done"), default=0)
    failed = models.PositiveBigIntegerField(_("failed"), default=0)
    #: The seconds the runs counted here took in all.
    seconds = models.FloatField(_("seconds"), default=0)

    class Meta:
        db_table = "djqueue_run_count"
        verbose_name = _("run count")
        verbose_name_plural = _("run counts")
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "minute", "command"], name="djqueue_run_count_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.command} @ {self.minute}"


#: The ``minute`` of the rows that hold totals since statistics began.
TOTALS_MINUTE = datetime(1970, 1, 1, tzinfo=UTC)


class QueuePause(models.Model):
    """A paused queue: who paused it, when and why; no row means running."""

    queue = models.CharField(_("queue"), max_length=100, primary_key=True)
    paused_by = models.CharField(_("paused by"), max_length=255)
    paused_at = models.DateTimeField(_("paused at"))
    reason = models.TextField(_("reason"), blank=True, default="")

    class Meta:
        db_table = "djqueue_queue_pause"
        verbose_name = _("queue pause")
        verbose_name_plural = _("queue pauses")

    def __str__(self) -> str:
        return f"{self.queue} paused by {self.paused_by}"
