"""The forms of the admin pages: the list's filters and search."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

#: Messages on one page of a list.
PER_PAGE = 50
#: The last page a list links to; deeper pages cost more to skip to.
MAX_PAGE = 1000


class ListFilterForm(forms.Form):
    """Search text, command filter and page number of a message list.

    A command is free text, not a choice of registered names: failed
    messages of a command that is no longer registered must be findable.
    Invalid input falls back to the first page, unfiltered.
    """

    q = forms.CharField(label=_("Search"), required=False, max_length=255)
    command = forms.CharField(label=_("Command"), required=False, max_length=255)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def values(self) -> tuple[str, str, int]:
        """Return ``(search, command, page)`` with their defaults applied."""
        if not self.is_valid():
            return "", "", 1
        data = self.cleaned_data
        return data["q"].strip(), data["command"].strip(), data["page"] or 1
