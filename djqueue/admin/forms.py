"""The forms of the admin pages: the list's filters and search."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

#: Messages on one page of a list.
PER_PAGE = 50
#: The last page a list links to; deeper pages cost more to skip to.
MAX_PAGE = 1000


class ListFilterForm(forms.Form):
    """Search text, command filter, page number and scan cursor of a list.

    A command is free text, not a choice of registered names: failed
    messages of a command that is no longer registered must be findable.
    A filtered list goes on from the cursor its previous page returned, and
    its page number only counts the pages; an unfiltered list goes by page
    number, up to ``MAX_PAGE``. Invalid input falls back to the first page,
    unfiltered.
    """

    q = forms.CharField(label=_("Search"), required=False, max_length=255)
    command = forms.CharField(label=_("Command"), required=False, max_length=255)
    page = forms.IntegerField(required=False, min_value=1, max_value=10**9)
    cursor = forms.CharField(required=False, max_length=300)

    def clean(self) -> dict[str, Any] | None:
        # The form's own fields were cleaned: Django returns cleaned_data.
        data = cast("dict[str, Any]", super().clean())
        scanning = data.get("cursor") and data.get("command")
        if not scanning and (data.get("page") or 1) > MAX_PAGE:
            raise forms.ValidationError("No list goes that deep.")
        return data

    def values(self) -> tuple[str, str, int, str]:
        """Return ``(search, command, page, cursor)`` with their defaults."""
        if not self.is_valid():
            return "", "", 1, ""
        data = self.cleaned_data
        command, cursor = data["command"].strip(), data["cursor"].strip()
        return data["q"].strip(), command, data["page"] or 1, cursor
