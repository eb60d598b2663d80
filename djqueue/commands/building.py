"""Build the signed messages of command calls, checking each call first.

Every check that can refuse a call runs here, before anything is written:
the signature, the arguments' encoding, the queue, the options its backend
must honour (unique keys, lock keys) and the eta's range. Both sides build
messages this way: the caller's :mod:`.enqueue` and the consumer's ticker
(:mod:`.periodic`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.utils import timezone

from ..backends.handler import get_queue
from ..conf import settings
from ..envelope.message import Message, new_message_id
from ..envelope.retries import encode_exceptions, encode_policy
from ..envelope.serializers import queue_serializer
from ..envelope.signing import canonical_options, payload_signer
from ..exceptions import InvalidOption
from .options import check_lock_key

if TYPE_CHECKING:
    from ..backends.base import BaseQueue
    from ..envelope.serializers import BaseSerializer
    from .command import QueueCommand
    from .options import CommandOptions

#: One call's arguments.
Args = tuple[Any, ...]
Kwargs = dict[str, Any]


def build_message(
    command: QueueCommand[..., Any],
    args: Args,
    kwargs: Kwargs,
    extra_options: dict[str, Any] | None = None,
) -> Message:
    """Return the signed message for one call, or raise at the call site.

    ``extra_options`` are added to the message's options before it is
    signed (the django.tasks backend marks its messages so).

    A call that does not match the function's signature raises ``TypeError``;
    an argument the queue's serializer cannot encode raises
    ``SerializationError`` naming it; an unknown queue raises
    ``UnknownQueue``; a ``lock_key``, ``unique=True`` or a ``unique_key``
    on a queue whose backend cannot honour it raises
    ``NotImplementedError``. Nothing is written in any of these cases.
    """
    return build_messages(command, [(args, kwargs)], extra_options)[0]


def build_messages(
    command: QueueCommand[..., Any],
    calls: Iterable[tuple[Args, Kwargs]],
    extra_options: dict[str, Any] | None = None,
) -> list[Message]:
    """Return the signed messages of ``(args, kwargs)`` calls, as
    :func:`build_message` does for each; they share one enqueue time, and
    what does not depend on the call is looked up once (after the first
    call's checks, so errors come in the order of a single call's)."""
    options, name = command.options, command.name
    queue: BaseQueue | None = None
    serializer: BaseSerializer | None = None
    now: datetime | None = None
    messages = []
    for args, kwargs in calls:
        try:
            command.check_call(args, kwargs)
        except TypeError as exc:
            raise TypeError(f"Cannot enqueue {name}: {exc}") from None
        if queue is None or serializer is None:
            queue = get_queue(options.queue)
            _check_unique(command, queue)
            _check_expiry(command, queue)
            serializer = queue_serializer(options.queue)
        lock_key = _lock_key(command, queue, args, kwargs)
        payload = serializer.dumps_call(args, kwargs, name, command._parameter_names)
        message_id = new_message_id()
        if now is None:
            now = timezone.now()
            eta = _eta(options, now)
            deadline = _deadline(options, eta)
            carried, canonical = _message_options(command)
            if extra_options:
                carried = {**carried, **extra_options}
                canonical = canonical_options(carried)
            sign = payload_signer(canonical)
            max_attempts = max(options.retries, settings.QUEUE_REDELIVERIES) + 1
        messages.append(
            Message(
                unique_key=_unique_key(options, name, payload),
                lock_key=lock_key,
                id=message_id,
                command=name,
                queue=options.queue,
                payload=payload,
                signature=sign(message_id, name, serializer.name, payload),
                serializer=serializer.name,
                eta=eta,
                enqueued_at=now,
                priority=options.priority,
                max_attempts=max_attempts,
                options=dict(carried),
                deadline=deadline,
            )
        )
    return messages


def _message_options(command: QueueCommand[..., Any]) -> tuple[dict[str, Any], str]:
    """The options that travel with the command's messages and their signed
    text, made once per set of command options and result TTL setting
    (callers copy the dict)."""
    options, result_ttl = command.options, settings.QUEUE_RESULT_TTL
    made = command._message_options
    if made is not None and made[0] is options and made[1] is result_ttl:
        return made[2], made[3]
    encoded: dict[str, Any] = {
        "retries": options.retries,
        "result_ttl": result_ttl if options.result_ttl is None else options.result_ttl,
        "retry_delay": encode_policy(options.retry_delay),
        "retry_on": encode_exceptions(options.retry_on),
        "timeout": options.timeout,
    }
    canonical = canonical_options(encoded)
    command._message_options = (options, result_ttl, encoded, canonical)
    return encoded, canonical


def _lock_key(
    command: QueueCommand[..., Any], queue: BaseQueue, args: Args, kwargs: Kwargs
) -> str:
    """The call's lock key: the option itself, or what it returns when it is
    a callable given the call's arguments."""
    key = command.options.lock_key
    if key is None:
        return ""
    if not queue.supports_lock_keys:
        raise NotImplementedError(
            f"Cannot enqueue {command.name} with a lock_key: the queue "
            f"{queue.name!r} uses {type(queue).__name__}, which does not "
            "support lock keys."
        )
    if callable(key):
        try:
            returned = key(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"Cannot enqueue {command.name}: its lock_key callable cannot "
                f"take the call's arguments: {exc}"
            ) from exc
        try:
            return check_lock_key(returned)
        except TypeError:
            raise TypeError(
                f"Cannot enqueue {command.name}: its lock_key callable returned "
                f"{returned!r}, not a string of 1 to 200 characters."
            ) from None
    return key


def _check_unique(command: QueueCommand[..., Any], queue: BaseQueue) -> None:
    """Refuse a unique command on a backend that cannot keep its key."""
    options = command.options
    if (options.unique or options.unique_key) and not queue.supports_unique:
        raise NotImplementedError(
            f"Cannot enqueue {command.name} with unique=True or a unique_key: "
            f"the queue {queue.name!r} uses {type(queue).__name__}, which does "
            "not support unique keys (its supports_unique flag is False). Use "
            "a backend that does, such as DatabaseQueue or RedisQueue, or "
            "enqueue it without unique and unique_key."
        )


def _check_expiry(command: QueueCommand[..., Any], queue: BaseQueue) -> None:
    """Refuse ``expires`` on a backend that keeps no deadlines."""
    if command.options.expires is not None and not queue.supports_expiry:
        raise NotImplementedError(
            f"Cannot enqueue {command.name} with expires: the queue "
            f"{queue.name!r} uses {type(queue).__name__}, which does not "
            "support deadlines (its supports_expiry flag is False). Use a "
            "backend that does, such as DatabaseQueue or RedisQueue, or "
            "enqueue it without expires."
        )


def _unique_key(options: CommandOptions, name: str, payload: str) -> str:
    if options.unique_key:
        return options.unique_key
    if options.unique:
        digest = hashlib.sha256(f"{name}\x1f{payload}".encode()).hexdigest()
        return f"auto:{digest[:40]}"
    return ""


#: The moments an eta may be: those of ``datetime`` less a day at each end,
#: so that every backend can store it and every time zone can show it.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def _eta(options: CommandOptions, now: datetime) -> datetime:
    """When the message becomes ready; raise ``InvalidOption`` naming
    ``eta`` for a moment out of range (``delay`` is bounded already)."""
    if options.eta is None:
        return now + timedelta(seconds=options.delay) if options.delay else now
    try:
        eta = _normalized(options.eta)
        utc = eta.astimezone(UTC) if eta.tzinfo else eta.replace(tzinfo=UTC)
        if _EARLIEST <= utc <= _LATEST:
            return eta
    except OverflowError:
        pass
    raise InvalidOption(
        f"eta {options.eta.isoformat()} is out of range: it must be at least a "
        "day inside the years 1 to 9999, in UTC."
    )


def _deadline(options: CommandOptions, eta: datetime) -> datetime | None:
    """When the message expires if not started: ``expires`` seconds after
    its eta, or the moment given, which must come after the eta."""
    expires = options.expires
    if expires is None:
        return None
    if not isinstance(expires, datetime):
        seconds = expires.total_seconds() if isinstance(expires, timedelta) else expires
        try:
            deadline = eta + timedelta(seconds=seconds)
        except OverflowError:
            deadline = None
        if deadline is not None and _in_range(deadline):
            return deadline
        raise InvalidOption(
            f"expires={seconds!r} after the eta {eta.isoformat()} is out of "
            "range: the moment must be at least a day inside the years 1 to 9999."
        )
    deadline = _normalized(expires)
    if not _in_range(deadline):
        raise InvalidOption(
            f"expires {expires.isoformat()} is out of range: it must be at "
            "least a day inside the years 1 to 9999, in UTC."
        )
    if deadline <= eta:
        raise InvalidOption(
            f"expires {expires.isoformat()} is not after the message's eta "
            f"{eta.isoformat()}: it would expire before it could start. Give a "
            "later moment, or seconds (counted from the eta)."
        )
    return deadline


def _in_range(moment: datetime) -> bool:
    try:
        utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        return False
    return _EARLIEST <= utc <= _LATEST


def _normalized(moment: datetime) -> datetime:
    """Follow USE_TZ, as Django does: naive datetimes are in the current time
    zone when it is on, and aware ones are converted to it when it is off."""
    if django_settings.USE_TZ and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    if not django_settings.USE_TZ and timezone.is_aware(moment):
        return timezone.make_naive(moment)
    return moment
