"""Decoding payloads and results for the admin never runs code."""

from __future__ import annotations

import datetime
import decimal
import pickle

import pytest

from djqueue.admin.safe_display import (
    MAX_CHARS,
    ModelReference,
    as_text,
    decode_json,
    show_arguments,
    show_result,
)
from djqueue.envelope.serializers import load_serializer
from djqueue.envelope.signing import sign_result

from .factories import make_message


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


def test_plain_tagged_values_are_decoded():
    text = load_serializer("json").dumps(
        [datetime.date(2024, 5, 1), decimal.Decimal("1.50"), (1, 2), {1: "a"}]
    )
    assert decode_json(text) == [
        datetime.date(2024, 5, 1),
        decimal.Decimal("1.50"),
        (1, 2),
        {1: "a"},
    ]


def test_model_references_are_not_loaded(django_assert_num_queries, db):
    """A reference to a missing model or row is shown, never looked up."""
    text = '[{"__djq__":"model","m":"nope.gone","pk":7,"db":"other"}]'
    with django_assert_num_queries(0):
        value = decode_json(text)
    assert value == [ModelReference("nope.gone", 7, "other")]
    assert repr(value[0]) == "<nope.gone pk=7 using 'other'>"


def test_unknown_or_damaged_tags_are_shown_as_stored():
    text = '[{"__djq__":"os.system","v":"rm"},{"__djq__":"date","v":"nope"}]'
    assert decode_json(text) == [
        {"__djq__": "os.system", "v": "rm"},
        {"__djq__": "date", "v": "nope"},
    ]


def test_arguments_by_position_and_name():
    shown = show_arguments(make_message("tests.c", (1, "x"), {"key": None}))
    assert shown.signature_valid is True
    assert shown.rows == (("0", "1"), ("1", "'x'"), ("key", "None"))


def test_a_bad_signature_is_reported_but_the_text_still_shown():
    message = make_message("tests.c", (1,), signature="forged")
    shown = show_arguments(message)
    assert shown.signature_valid is False
    assert shown.rows == (("0", "1"),)


def test_pickle_is_never_unpickled(monkeypatch):
    monkeypatch.setattr(
        pickle, "loads", lambda *a, **k: pytest.fail("pickle.loads was called")
    )
    message = make_message("tests.c", (Boom(),), serializer="pickle")
    shown = show_arguments(message)
    assert shown.rows == ()
    assert shown.note == "Pickled payload, not decoded."
    assert shown.signature_valid is True


def test_other_serializers_are_not_decoded():
    message = make_message("tests.c", payload="x", serializer="json", signature="s")
    message.serializer = "custom.Serializer"
    shown = show_arguments(message)
    assert shown.rows == ()
    assert "custom.Serializer" in shown.note


def test_a_payload_that_is_not_a_call_is_shown_raw():
    shown = show_arguments(make_message("tests.c", payload='{"a": 1}'))
    assert shown.rows == (("", "'{\"a\": 1}'"),)
    assert "not a JSON list" in shown.note


def test_results_are_verified_and_decoded():
    message = make_message("tests.c")
    message.result = sign_result(message.id, '{"n":[1,2]}')
    shown = show_result(message)
    assert shown.signature_valid is True
    assert shown.rows == (("", "{'n': [1, 2]}"),)
    message.result = '{"n":3}:forgedsignature'
    shown = show_result(message)
    assert shown.signature_valid is False
    assert shown.rows == (("", "{'n': 3}"),)


def test_no_result_kept():
    shown = show_result(make_message("tests.c"))
    assert shown.rows == ()
    assert shown.signature_valid is None


def test_long_values_are_cut():
    text = as_text("x" * (MAX_CHARS * 2))
    assert len(text) < MAX_CHARS + 100
    assert "more characters" in text


def test_deep_nesting_does_not_crash():
    shown = show_arguments(make_message("tests.c", payload="[" * 100_000))
    assert shown.note
