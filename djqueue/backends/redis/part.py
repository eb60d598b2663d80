"""What the parts of ``RedisQueue`` (leases, inspection, monitoring, scans)
use of the queue they are mixed into and of one another, declared for the
type checker.

To the type checker each part is a :class:`~djqueue.backends.base.BaseQueue`
with these attributes and methods; at run time it derives from ``object``
alone, so ``RedisQueue`` and its method resolution order are what they
would be without this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abc import abstractmethod
    from collections.abc import Sequence
    from typing import Any

    from ...envelope.message import Message
    from ..base import BaseQueue
    from ..inspection import MessageScan

    #: A scan's position: the score and id of the last message examined.
    ScanPosition = tuple[str, str]
    #: One condition of a scan's match: a hash field, ``"="`` (equals) or
    #: ``"~"`` (contains, without regard to ASCII case), and the value.
    Condition = tuple[str, str, str]

    class RedisPart(BaseQueue):
        #: The key base, ``{prefix:name}`` (one hash tag per queue).
        base: str
        #: Seconds an inspection read waits.
        inspect_timeout: float
        _owns_client: bool

        # The client is typed Any: redis-py types each command's reply as
        # "Awaitable[Any] | Any" for its asyncio client's sake, which no
        # caller of the synchronous client could use.
        @property
        @abstractmethod
        def client(self) -> Any: ...

        @abstractmethod
        def key(self, suffix: str) -> str: ...

        @abstractmethod
        def _script(self, name: str) -> Any: ...

        # What a Lua program returns depends on the program.
        @abstractmethod
        def _run(self, name: str, *args: Any) -> Any: ...

        @abstractmethod
        def _block_slice(self) -> float: ...

        @abstractmethod
        def _load(self, ids: Sequence[str | bytes]) -> list[Message]: ...

        @abstractmethod
        def _scan_ids(
            self,
            state_set: str,
            newest_first: bool,
            after: ScanPosition | None,
            skip: int,
            limit: int,
            match: Sequence[Condition],
        ) -> tuple[list[tuple[str, str]], ScanPosition | None, int]: ...

        @abstractmethod
        def _scan_messages(
            self,
            state_set: str,
            newest_first: bool,
            cursor: str,
            limit: int,
            match: Sequence[Condition],
        ) -> MessageScan: ...

else:
    RedisPart = object
