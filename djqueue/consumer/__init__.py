"""The consuming side: ``run_queue`` and what it is made of.

- :mod:`.consumer`: :class:`Consumer`, the main loop, stop and shutdown;
- :mod:`.claiming`: how many messages to lease, and suspects run alone;
- :mod:`.workers`: the worker threads, which run messages and record outcomes;
- :mod:`.runners`: how a worker runs a command (its thread, or a child process);
- :mod:`.inflight`: the messages the consumer holds;
- :mod:`.housekeeping`: leases renewed, due messages promoted, expired reclaimed;
- :mod:`.presence`: registration with the queues and run statistics;
- :mod:`.outages`: living through a backend that fails or does not answer;
- :mod:`.systemd`: the notify protocol.
"""

from .consumer import Consumer

__all__ = ["Consumer"]
