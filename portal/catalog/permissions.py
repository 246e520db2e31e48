"""Who may do what: museum staff (group "staff") catalogue and colorize; admins (superusers or group
"admins") also train and promote models; everyone else sees published items only."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

STAFF_GROUP = "staff"
ADMIN_GROUP = "admins"


def _in_group(user, name: str) -> bool:
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_colorarchive_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._colorarchive_groups = cache
    return name in cache


def is_admin(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or _in_group(user, ADMIN_GROUP)))


def is_staff_member(user) -> bool:
    return is_admin(user) or _in_group(user, STAFF_GROUP)


def _require(check):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied("You do not have permission for this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


staff_required = _require(is_staff_member)
admin_required = _require(is_admin)


def roles(request) -> dict:
    """Template context: what the navigation may offer this user (anonymous on a request refused before the
    authentication middleware ran, e.g. for its Host header)."""
    user = getattr(request, "user", None) or AnonymousUser()
    return {"is_staff_member": is_staff_member(user), "is_admin": is_admin(user)}
