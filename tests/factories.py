"""Messages built directly, for tests that talk to backends, and a runner
for tests that decide each run's outcome."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from djqueue.envelope.message import Message, new_message_id
from djqueue.envelope.serializers import load_serializer
from djqueue.envelope.signing import sign_payload


def make_message(
    command: str = "tests.command",
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    queue: str = "default",
    priority: int = 0,
    eta: datetime | None = None,
    enqueued_at: datetime | None = None,
    max_attempts: int = 3,
    options: dict | None = None,
    payload: str | None = None,
    signature: str | None = None,
    serializer: str = "json",
    message_id: str | None = None,
    deadline: datetime | None = None,
) -> Message:
    """Return a signed message, with any part overridable to make bad ones."""
    message_id = message_id or new_message_id()
    if payload is None:
        payload = load_serializer(serializer).dumps([list(args), kwargs or {}])
    options = {"result_ttl": 60, "retries": 0, **(options or {})}
    if signature is None:
        signature = sign_payload(
            message_id, command, serializer, payload, options=options
        )
    now = timezone.now()
    return Message(
        id=message_id,
        command=command,
        queue=queue,
        payload=payload,
        signature=signature,
        serializer=serializer,
        eta=eta or now,
        enqueued_at=enqueued_at or now,
        priority=priority,
        max_attempts=max_attempts,
        options=options,
        deadline=deadline,
    )


class FakeRunner:
    """A consumer's runner whose ``run`` a test writes (a subclass returns
    each run's ``Outcome``); killing and closing it do nothing."""

    enforces_timeouts = False

    def run(self, message: Message, now):
        raise NotImplementedError

    def kill(self) -> None:
        pass

    def close(self) -> None:
        pass
