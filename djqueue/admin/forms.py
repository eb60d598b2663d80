"""The forms of the admin pages: the list's filters and search, and the
overview's search."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _

#: Messages on one page of a list.
PER_PAGE = 50
#: The last page a list links to; deeper pages cost more to skip to.
MAX_PAGE = 1000


class ListFilterForm(forms.Form):
    """Search text, command, argument and error filters, page number and
    scan cursor of a list.

    A command is free text, not a choice of registered names: failed
    messages of a command that is no longer registered must be findable.
    A filtered list (by command, argument or error) goes on from the cursor
    its previous page returned, and
    its page number only counts the pages; an unfiltered list goes by page
    number, up to ``MAX_PAGE``. Invalid input falls back to the first page,
    unfiltered; a page number that names no page falls back to page 1 here,
    and :func:`djqueue.admin.paging.page_problem` says why.
    """

    q = forms.CharField(label=_("Search"), required=False, max_length=255)
    command = forms.CharField(label=_("Command"), required=False, max_length=255)
    argument = forms.CharField(
        label=_("Arguments contain"), required=False, max_length=255
    )
    error = forms.CharField(label=_("Error contains"), required=False, max_length=255)
    page = forms.CharField(required=False, max_length=20)
    cursor = forms.CharField(required=False, max_length=300)

    def query(self, max_page: int = MAX_PAGE) -> ListQuery:
        """The list asked for, with its defaults: a page number that names
        no page (not a number, below 1, or past ``max_page`` without a scan
        cursor to go on from) is page 1."""
        if not self.is_valid():
            return ListQuery()
        data: dict[str, Any] = self.cleaned_data
        found = ListQuery(
            search=data["q"].strip(),
            command=data["command"].strip(),
            argument=data["argument"].strip(),
            error=data["error"].strip(),
            cursor=data["cursor"].strip(),
        )
        page = data["page"].strip()
        number = int(page) if page.isdigit() and page.isascii() else 1
        if number < 1 or (number > max_page and not (found.filtered and found.cursor)):
            number = 1
        return dataclasses.replace(found, page=number)


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """The search, filters, page and scan cursor of one list page."""

    search: str = ""
    command: str = ""
    argument: str = ""
    error: str = ""
    page: int = 1
    cursor: str = ""

    @property
    def filtered(self) -> bool:
        """Whether the list is a scan: a command, argument or error filter."""
        return bool(self.command or self.argument or self.error)

    @property
    def texts(self) -> bool:
        """Whether the list searches text (arguments or error)."""
        return bool(self.argument or self.error)

    def link(self, **changes: object) -> str:
        """The query string of this list's filters with ``changes`` (a
        value of None or "" leaves the parameter out)."""
        values = {
            "q": self.search,
            "command": self.command,
            "argument": self.argument,
            "error": self.error,
            **changes,
        }
        return urlencode({key: v for key, v in values.items() if v not in (None, "")})


class SearchForm(forms.Form):
    """The overview's search: a queue and state to search, and what to find."""

    q = forms.CharField(required=False, max_length=255)
    argument = forms.CharField(required=False, max_length=255)
    error = forms.CharField(required=False, max_length=255)
    queue = forms.CharField(max_length=100)
    state = forms.CharField(max_length=10)
