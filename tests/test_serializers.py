"""The JSON and pickle serializers."""

import datetime
import decimal
import uuid

import pytest

from djqueue.envelope.serializers import load_serializer
from djqueue.envelope.serializers.json import JSONSerializer
from djqueue.envelope.serializers.pickle import PickleSerializer
from djqueue.exceptions import DecodeError, ObjectGone, SerializationError
from testproject.demo.models import Report

json_serializer = JSONSerializer()

EVERYDAY_VALUES = [
    None,
    True,
    7,
    2.5,
    "text with ünïcode",
    [1, [2, 3]],
    {"nested": {"a": [1, 2]}},
    (1, "two", (3,)),
    datetime.datetime(2026, 11, 24, 3, 4, 5, 123456, tzinfo=datetime.UTC),
    datetime.datetime(2026, 11, 24, 3, 4, 5),
    datetime.date(2026, 2, 28),
    datetime.time(13, 14, 15, 16),
    datetime.timedelta(days=-1, seconds=5, microseconds=7),
    decimal.Decimal("12.3400"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    {1, 2, 3},
    b"\x00\xffbytes",
    {1: "int key", (2, 3): "tuple key"},
    {"__djq__": "a user's own key"},
]


@pytest.mark.parametrize("value", EVERYDAY_VALUES, ids=repr)
def test_json_round_trips_everyday_types(value):
    decoded = json_serializer.loads(json_serializer.dumps(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_json_round_trips_a_call():
    args = (1, (2, 3), decimal.Decimal("1.5"))
    kwargs = {"when": datetime.date(2026, 1, 1)}
    text = json_serializer.dumps_call(args, kwargs, "cmd")
    assert json_serializer.loads_call(text) == (
        [1, (2, 3), decimal.Decimal("1.5")],
        kwargs,
    )


def test_json_encodes_enum_members_as_their_value():
    import enum

    class Colour(enum.StrEnum):
        RED = "red"

    assert json_serializer.loads(json_serializer.dumps([Colour.RED])) == ["red"]


def test_unserializable_argument_is_named_with_a_hint():
    with pytest.raises(SerializationError) as caught:
        json_serializer.dumps_call((1, object()), {}, "app.commands.job", ("a", "obj"))
    text = str(caught.value)
    assert "app.commands.job" in text
    assert "argument 'obj' (object)" in text
    assert "QUEUE_SERIALIZER" in text


def test_unserializable_keyword_argument_is_named():
    with pytest.raises(SerializationError, match="keyword argument 'callback'"):
        json_serializer.dumps_call((), {"callback": lambda: None}, "job")


@pytest.mark.django_db
def test_model_instances_travel_by_reference_and_load_fresh():
    report = Report.objects.create(title="before", words=3)
    text = json_serializer.dumps([report])
    assert "before" not in text
    Report.objects.filter(pk=report.pk).update(title="after")

    (loaded,) = json_serializer.loads(text)

    assert loaded == report
    assert loaded.title == "after"


@pytest.mark.django_db
def test_deleted_instance_is_a_clear_decode_error():
    report = Report.objects.create(title="gone")
    text = json_serializer.dumps([report])
    report.delete()
    with pytest.raises(
        ObjectGone, match=r"demo.Report with primary key .* no longer exists"
    ):
        json_serializer.loads(text)


def test_unsaved_instance_cannot_be_enqueued():
    with pytest.raises(SerializationError, match="not saved yet"):
        json_serializer.dumps([Report(title="unsaved")])


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"__djq__": "nonsense", "v": 1}',
        '{"__djq__": "model", "m": "no.model", "pk": 1}',
    ],
)
def test_garbage_is_a_decode_error(text):
    with pytest.raises(DecodeError):
        json_serializer.loads(text)


def test_pickle_round_trips_what_json_cannot():
    serializer = PickleSerializer()
    value = [Exception("kept"), frozenset({1})]
    decoded = serializer.loads(serializer.dumps(value))
    assert decoded[0].args == ("kept",)
    assert decoded[1] == frozenset({1})


def test_pickle_reports_unpicklable_and_garbage():
    serializer = PickleSerializer()
    with pytest.raises(SerializationError, match="cannot be pickled"):
        serializer.dumps(lambda: None)
    with pytest.raises(DecodeError):
        serializer.loads("bm90IGEgcGlja2xl")


def test_serializers_load_by_short_name_or_path():
    assert load_serializer("json").name == "json"
    assert (
        load_serializer("djqueue.envelope.serializers.pickle.PickleSerializer").name
        == "pickle"
    )
