"""The permissions of djqueue's admin pages and actions.

Each page and action needs one permission of ``MessageRecord.Meta``; they
apply to messages of every backend, whether or not they are database rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AbstractUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

from django.core.exceptions import PermissionDenied

#: What a user may do -> the permission it needs.
PERMISSIONS = {
    "view": "djqueue.view_message",
    "retry": "djqueue.retry_message",
    "run_now": "djqueue.run_message",
    "cancel": "djqueue.cancel_message",
    "delete": "djqueue.delete_message",
    "purge": "djqueue.purge_queue",
    "pause": "djqueue.pause_queue",
}


def allowed(user: AnyUser, action: str) -> bool:
    """Whether ``user`` is active staff holding the permission of ``action``."""
    # The admin's user model has is_staff and has_perm, as Django's admin
    # requires; the stubs type request.user as any base user.
    staff = cast("AbstractUser | AnonymousUser", user)
    return bool(
        staff.is_active and staff.is_staff and staff.has_perm(PERMISSIONS[action])
    )


def require(user: AnyUser, action: str) -> None:
    """Raise ``PermissionDenied`` (a 403) unless ``user`` may do ``action``."""
    if not allowed(user, action):
        raise PermissionDenied


def granted(user: AnyUser) -> dict[str, bool]:
    """Every action mapped to whether ``user`` may do it, for templates."""
    return {action: allowed(user, action) for action in PERMISSIONS}
