"""Show a message's arguments and result to staff without running code.

Guarantees: nothing here imports a module, loads a model instance, touches
the database or unpickles anything. JSON payloads are decoded with the JSON
serializer's tags for plain values (datetimes, Decimal, UUID, …); a model
reference is shown as a reference (label and primary key), never loaded.
Payloads of any other serializer are not decoded. Signatures are checked
and reported, and an invalid one never hides the text: staff see what is
stored, marked as not written by this site. Returned text is plain; the
templates escape it.
"""

from __future__ import annotations

import dataclasses
import json
import pprint
from typing import Any

from django.utils.translation import gettext as _

from ..envelope.message import Message
from ..envelope.serializers.json import TAG, _decode_tagged
from ..envelope.signing import unsign_result, verify_payload
from ..exceptions import DjqueueError, SignatureMismatch

#: Longest text shown for one value; the rest is cut with a note.
MAX_CHARS = 20_000
#: A longer value is shown by its start, the whole of it (up to MAX_CHARS)
#: behind a "show all".
PREVIEW_LINES = 12
PREVIEW_CHARS = 1_000


@dataclasses.dataclass(frozen=True, slots=True)
class ModelReference:
    """A model instance passed by reference, shown without loading it."""

    label: str
    pk: Any
    database: str | None = None

    def __repr__(self) -> str:
        where = f" using {self.database!r}" if self.database else ""
        return f"<{self.label} pk={self.pk!r}{where}>"


@dataclasses.dataclass(frozen=True, slots=True)
class Shown:
    """What the message page shows for a payload or a result.

    ``rows`` are ``(label, text)`` pairs (argument name or position and its
    value as text); ``note`` explains why nothing or only raw text is shown.
    ``signature_valid`` is None when there is nothing to verify.
    """

    rows: tuple[tuple[str, str], ...] = ()
    note: str = ""
    signature_valid: bool | None = None

    @property
    def previews(self) -> tuple[tuple[str, str, str, int], ...]:
        """``(label, text, preview, lines)`` for each row: ``preview`` is
        the start of a text too long to show whole at once (empty for the
        others), ``lines`` its number of lines."""
        return tuple(
            (label, text, preview(text), text.count("\n") + 1)
            for label, text in self.rows
        )


def preview(text: str) -> str:
    """The start of ``text`` if it has more than PREVIEW_LINES lines or
    PREVIEW_CHARS characters, else ``""``."""
    lines = text.split("\n", PREVIEW_LINES)
    if len(lines) <= PREVIEW_LINES and len(text) <= PREVIEW_CHARS:
        return ""
    return "\n".join(lines[:PREVIEW_LINES])[:PREVIEW_CHARS] + " …"


def _object_hook(data: dict[str, Any]) -> Any:
    tag = data.get(TAG)
    if tag is None:
        return data
    if tag == "model":
        return ModelReference(str(data.get("m")), data.get("pk"), data.get("db"))
    try:
        return _decode_tagged(data)
    except (DjqueueError, ValueError, TypeError, KeyError, IndexError):
        return data  # an unknown or damaged tag is shown as it is stored


def decode_json(text: str) -> Any:
    """Decode JSON serializer text into values fit for display.

    Raise ``ValueError`` when the text is not JSON.
    """
    try:
        return json.loads(text, object_hook=_object_hook)
    except RecursionError:
        raise ValueError(_("the data is nested too deeply to show")) from None


def as_text(value: Any) -> str:
    """Return a readable, bounded text for a decoded value."""
    text = pprint.pformat(value, width=88)
    if len(text) > MAX_CHARS:
        cut = len(text) - MAX_CHARS
        text = text[:MAX_CHARS] + "\n" + _("… (%(n)d more characters)") % {"n": cut}
    return text


def _not_decoded(serializer: str) -> str:
    if serializer == "pickle":
        return _("Pickled payload, not decoded.")
    return _(
        "Encoded with the serializer %(name)s, which the admin does not decode."
    ) % {"name": serializer}


def show_arguments(message: Message) -> Shown:
    """Return the verified-or-not, safely decoded arguments of ``message``."""
    try:
        verify_payload(
            message.id,
            message.command,
            message.serializer,
            message.payload,
            message.signature,
            options=message.options,
        )
        valid = True
    except SignatureMismatch:
        valid = False
    if message.serializer != "json":
        return Shown(note=_not_decoded(message.serializer), signature_valid=valid)
    try:
        args, kwargs = decode_json(message.payload)
        rows = [(str(index), as_text(value)) for index, value in enumerate(args)]
        rows += [(str(name), as_text(value)) for name, value in kwargs.items()]
    except (ValueError, TypeError, AttributeError):
        note = _("The payload is not a JSON list of arguments; shown as stored.")
        raw = (("", as_text(message.payload)),)
        return Shown(rows=raw, note=note, signature_valid=valid)
    return Shown(rows=tuple(rows), signature_valid=valid)


def show_result(message: Message) -> Shown:
    """Return the safely decoded result kept with ``message``, if any."""
    if message.result is None:
        return Shown(note=_("No result is kept."))
    try:
        text = unsign_result(message.id, message.result)
        valid = True
    except SignatureMismatch:
        text, valid = message.result.rpartition(":")[0], False
    if message.serializer != "json":
        return Shown(note=_not_decoded(message.serializer), signature_valid=valid)
    try:
        value = decode_json(text)
    except ValueError:
        note = _("The result is not JSON; shown as stored.")
        return Shown(rows=(("", as_text(text)),), note=note, signature_valid=valid)
    return Shown(rows=(("", as_text(value)),), signature_valid=valid)
