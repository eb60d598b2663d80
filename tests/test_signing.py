"""Payload and result signatures, and key rotation."""

import pytest
from django.core import signing
from django.test import override_settings

from djqueue.envelope.signing import (
    sign_payload,
    sign_result,
    unsign_result,
    verify_payload,
)
from djqueue.exceptions import SignatureMismatch

PARTS = ("id-1", "app.commands.job", "json", "[[1],{}]")
OPTIONS = {"retries": 2, "result_ttl": 60, "retry_delay": [1, 2.5], "timeout": None}


def test_a_signed_payload_verifies():
    verify_payload(*PARTS, sign_payload(*PARTS, options=OPTIONS), options=dict(OPTIONS))


@pytest.mark.parametrize("index", range(4))
def test_changing_any_signed_part_breaks_the_signature(index):
    signature = sign_payload(*PARTS, options=OPTIONS)
    changed = list(PARTS)
    changed[index] += "x"
    with pytest.raises(SignatureMismatch, match="does not match"):
        verify_payload(*changed, signature, options=OPTIONS)


@pytest.mark.parametrize(
    "changed",
    [
        {**OPTIONS, "retries": 3},
        {**OPTIONS, "django_task": "default"},
        {key: value for key, value in OPTIONS.items() if key != "timeout"},
        {**OPTIONS, "retry_delay": [1, 2.5, 0]},
        [OPTIONS],
        "garbage",
    ],
)
def test_changing_the_options_breaks_the_signature(changed):
    """The options steer how a message runs (retries, the django.tasks path),
    so they are signed with the payload."""
    signature = sign_payload(*PARTS, options=OPTIONS)
    with pytest.raises(SignatureMismatch, match="does not match"):
        verify_payload(*PARTS, signature, options=changed)


def test_options_verify_after_a_jsonb_round_trip():
    """PostgreSQL's jsonb reorders keys and rewrites numbers (1e+20 comes back
    as an integer, 5.0 as 5.0 but 1e2 as 100); the signature survives that."""
    options = {"b": 1e20, "a": 0.1, "c": [1.0, 2], "d": {"y": True, "x": None}}
    signature = sign_payload(*PARTS, options=options)
    stored = {"a": 0.1, "c": [1, 2.0], "b": 10**20, "d": {"x": None, "y": True}}
    verify_payload(*PARTS, signature, options=stored)
    with pytest.raises(SignatureMismatch):
        verify_payload(*PARTS, signature, options={**stored, "d": {"x": 0, "y": 1}})


def test_payloads_signed_with_a_fallback_key_still_verify():
    with override_settings(SECRET_KEY="old-key-" + "x" * 40):
        signature = sign_payload(*PARTS, options=OPTIONS)
    with override_settings(
        SECRET_KEY="new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=["old-key-" + "x" * 40]
    ):
        verify_payload(*PARTS, signature, options=OPTIONS)
        with pytest.raises(SignatureMismatch):
            verify_payload(*PARTS, signature, options={**OPTIONS, "retries": 9})
    with (
        override_settings(SECRET_KEY="new-key-" + "y" * 40, SECRET_KEY_FALLBACKS=[]),
        pytest.raises(SignatureMismatch),
    ):
        verify_payload(*PARTS, signature, options=OPTIONS)


def test_results_are_bound_to_their_message():
    signed = sign_result("id-1", '{"a":1}')
    assert unsign_result("id-1", signed) == '{"a":1}'
    with pytest.raises(SignatureMismatch):
        unsign_result("id-2", signed)
    with pytest.raises(SignatureMismatch):
        unsign_result("id-1", signed.replace("1", "2", 1))


@pytest.mark.parametrize("text", ["", "[[1],{}]", "snowman \u2603 and more"])
def test_signatures_are_those_of_djangos_signer(text):
    """Stored signatures stay readable by django.core.signing, and the other
    way round, whatever the speed-ups of djqueue.envelope.signing."""
    parts = (*PARTS[:3], text)
    signer = signing.Signer(salt="djqueue.payload")
    signed = "\x1f".join((*parts, '{"retries":2.0}'))
    assert sign_payload(*parts, options={"retries": 2}) == signer.signature(signed)
    result_signer = signing.Signer(salt="djqueue.result:id-1")
    assert sign_result("id-1", text) == result_signer.sign(text)
    assert unsign_result("id-1", result_signer.sign(text)) == text
    with override_settings(SECRET_KEY="another-key-" + "z" * 40):
        assert sign_payload(*parts, options={"retries": 2}) != signer.signature(signed)


def test_a_result_without_a_signature_is_refused():
    with pytest.raises(SignatureMismatch):
        unsign_result("id-1", "no separator here")
