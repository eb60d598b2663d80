"""The consuming side: ``run_queue`` and what it is made of.

- :mod:`.consumer`: :class:`Consumer`, the main loop and stop;
- :mod:`.shutdown`: finish or release what it holds, then sign off;
- :mod:`.claiming`: how many messages to lease, and suspects run alone;
- :mod:`.workers`: the worker threads, which run messages and record outcomes;
- :mod:`.runners`: how a worker runs a command (its thread, or a child process);
- :mod:`.event_loops`: many messages at once on each worker thread's event
  loop (``async_runs``), and :mod:`.coroutines`: how an ``async def``
  command's coroutine runs, within its timeout;
- :mod:`.inflight`: the messages the consumer holds;
- :mod:`.housekeeping`: leases renewed, due messages promoted, expired
  reclaimed, each when due, and systemd's watchdog fed;
- :mod:`.presence`: registration with the queues and run statistics;
- :mod:`.outages`: living through a backend that fails or does not answer;
- :mod:`.systemd`: the notify protocol;
- :mod:`.supervisor`: several consumer processes under one, which
  :mod:`.child_processes` starts and reaps (:mod:`.child` is their side);
- :mod:`.exit_statuses`: what ``run_queue``'s exit status says.
"""

from .consumer import Consumer

__all__ = ["Consumer"]
