"""Bad options and arguments at enqueue: djqueue's own error, nothing stored.

Each case runs on every backend, for a single call and for ``map()``, and
counts the messages the queue holds before and after.
"""

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from djqueue import DjqueueError, SerializationError, get_queue
from djqueue.envelope.serializers.json import MAX_DEPTH
from djqueue.exceptions import InvalidOption
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]

PLUS_14 = timezone(timedelta(hours=14))
MINUS_14 = timezone(timedelta(hours=-14))

#: (option values for using(), the name the error must give).
BAD_OPTIONS = {
    "delay NaN": ({"delay": math.nan}, "delay"),
    "delay infinite": ({"delay": math.inf}, "delay"),
    "delay 1e12 s": ({"delay": 1e12}, "delay"),
    "delay 10**400 s": ({"delay": 10**400}, "delay"),
    "delay huge timedelta": ({"delay": timedelta(days=999_999_999)}, "delay"),
    "delay string": ({"delay": "60"}, "delay"),
    "eta the largest naive datetime": ({"eta": datetime.max}, "eta"),
    "eta year 9999 at -14:00": ({"eta": datetime.max.replace(tzinfo=MINUS_14)}, "eta"),
    "eta year 1 at +14:00": ({"eta": datetime.min.replace(tzinfo=PLUS_14)}, "eta"),
    "eta a date": ({"eta": datetime(2030, 1, 1).date()}, "eta"),
    "eta a string": ({"eta": "2030-01-01T00:00:00"}, "eta"),
    "eta a timestamp": ({"eta": 1_900_000_000}, "eta"),
    "result_ttl infinite": ({"result_ttl": math.inf}, "result_ttl"),
    "result_ttl NaN": ({"result_ttl": math.nan}, "result_ttl"),
    "timeout NaN": ({"timeout": math.nan}, "timeout"),
    "retry_delay infinite": ({"retry_delay": math.inf}, "retry_delay"),
    "retry_delay list with NaN": ({"retry_delay": [1, math.nan]}, "retry_delay"),
    "retries a string": ({"retries": "x"}, "retries"),
    "retries above 10,000": ({"retries": 10_001}, "retries"),
}


def stored() -> int:
    return sum(get_queue().counts().values())


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def itself() -> list:
    value: list = [1]
    value.append(value)
    return value


def deep_dict(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_a_bad_option_is_named_and_nothing_is_stored(case):
    options, name = BAD_OPTIONS[case]
    before = stored()

    with pytest.raises(InvalidOption, match=rf"^{name}\b") as single:
        commands.add.using(**options)(1, 2)
    with pytest.raises(InvalidOption, match=rf"^{name}\b"):
        commands.add.using(**options).map([(1, 2), (3, 4)])

    assert isinstance(single.value, DjqueueError)
    assert stored() == before


def test_enqueue_at_and_enqueue_in_name_their_option():
    before = stored()

    with pytest.raises(InvalidOption, match=r"^eta "):
        commands.add.enqueue_at(datetime.max.replace(tzinfo=UTC), 1, 2)
    with pytest.raises(InvalidOption, match=r"^delay "):
        commands.add.enqueue_in(math.inf, 1, 2)

    assert stored() == before


@pytest.mark.parametrize(
    "eta",
    [
        datetime(1, 1, 3, tzinfo=UTC),
        datetime(9999, 12, 29, 23, 59, tzinfo=UTC),
        datetime(2030, 6, 1, 12, 0),  # naive: the current time zone
    ],
    ids=["year 1", "year 9999", "naive"],
)
def test_etas_inside_the_range_are_stored_and_read_back(eta):
    result = commands.add.using(eta=eta)(1, 2)

    message = get_queue().get(result.id)
    expected = eta if eta.tzinfo else eta.replace(tzinfo=UTC)  # TIME_ZONE is UTC
    assert message.eta == expected


@pytest.mark.parametrize(
    ("argument", "kind"),
    [
        (nested(5000), "list"),
        (itself(), "list"),
        (deep_dict(5000), "dict"),
        (tuple(nested(5000)), "tuple"),
    ],
    ids=["nested 5000 deep", "contains itself", "dict nested 5000 deep", "tuple"],
)
def test_an_argument_nested_too_deep_is_named_and_nothing_is_stored(argument, kind):
    before = stored()

    with pytest.raises(SerializationError, match=rf"argument 'b' \({kind}\)"):
        commands.add(1, argument)
    with pytest.raises(SerializationError, match=rf"keyword argument 'b' \({kind}\)"):
        commands.add.map([(1, 2), {"a": 1, "b": argument}])

    assert stored() == before


def test_an_argument_may_nest_up_to_the_limit():
    """nested(n) is n + 1 lists deep."""
    before = stored()
    result = commands.add(1, nested(MAX_DEPTH - 1))

    with pytest.raises(SerializationError, match=f"more than {MAX_DEPTH} levels"):
        commands.add(1, nested(MAX_DEPTH))
    assert get_queue().get(result.id) is not None
    assert stored() == before + 1


def test_pickle_names_an_argument_nested_too_deep(settings):
    queues = getattr(settings, "QUEUES", None)
    if queues:
        settings.QUEUES = {n: {**c, "SERIALIZER": "pickle"} for n, c in queues.items()}
    else:
        settings.QUEUE_SERIALIZER = "pickle"
    before = stored()

    with pytest.raises(SerializationError, match=r"argument 'b' \(list\)"):
        commands.add(1, nested(100_000))
    with pytest.raises(SerializationError, match=r"argument 'b' \(list\)"):
        commands.add.map([(1, 2), (1, nested(100_000))])
    # A value that contains itself is one pickle can carry.
    message = get_queue().get(commands.add(1, itself()).id)

    assert message.serializer == "pickle"
    assert stored() == before + 1
