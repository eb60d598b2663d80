"""What a list page says about its page number: one that does not exist,
and the end of what page numbers reach.

A page that does not exist (not a number, 0, past the deepest page a list
links to, or past the end of the list) is answered with a 404 that says
why and links to the first page, as Django's own paginated views answer
an invalid page with a 404; it is never silently replaced by page 1.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def page_problem(raw: str | None, max_page: int, scanning: bool) -> str:
    """Why the page number ``raw`` (the query's ``page``, None if absent)
    names no page, or ``""`` if it may. A filtered list going on with its
    scan (``scanning``) only counts its pages: it may go past ``max_page``."""
    if raw is None or raw == "":
        return ""
    text = raw.strip()
    if not text.isdigit() or not text.isascii():
        return _("“%(page)s” is not a page number: pages are numbered from 1.") % {
            "page": raw[:20]
        }
    number = int(text)
    if number < 1:
        return _("Page %(page)d does not exist: pages are numbered from 1.") % {
            "page": number
        }
    if number > max_page and not scanning:
        return _(
            "Page %(page)d does not exist: an unfiltered list goes up to page "
            "%(max)d, as skipping deeper costs the backend more than a page. "
            "Filter by command to reach the messages beyond."
        ) % {"page": number, "max": max_page}
    return ""


def past_the_end(page: int) -> str:
    """Why page ``page`` of a list shows no message though earlier pages do."""
    return _(
        "Page %(page)d does not exist: the list ends before it (messages may "
        "have left this state since the previous page was read)."
    ) % {"page": page}
