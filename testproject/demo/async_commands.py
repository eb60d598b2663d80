import asyncio
import os

from djqueue import Retry, current_message, queue_command

from .models import Run


@queue_command(timeout=30, retries=2)
async def record_visit(label: str) -> int:
    """Record a run with the async ORM; return how many carry ``label``."""
    message = current_message()
    await Run.objects.acreate(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    return await Run.objects.filter(label=label).acount()


@queue_command(timeout=0.1, retries=1)
async def wait_for_ever() -> None:
    """Wait for an event nobody sets: cancelled at its timeout, twice."""
    await asyncio.Event().wait()


@queue_command
async def not_yet(delay: float = 0) -> str:
    """Ask to be run again, once."""
    if current_message().attempts == 1:
        raise Retry(delay=delay, reason="not yet")
    await asyncio.sleep(0)
    return "second time"
