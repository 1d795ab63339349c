"""Reading driver rows and choosing a call's execution profile: helpers every storage module uses.

Kept apart from ``store`` so that ``setup`` (which ``store`` depends on) can use them without an
import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cassandra.cluster import EXEC_PROFILE_DEFAULT, _ConfigMode

if TYPE_CHECKING:
    from cassandra.cluster import ExecutionProfile, Session


def profile_for_call(session: Session, profile: ExecutionProfile) -> object:
    """``profile``, unless the session uses the driver's legacy (profile-less) configuration."""
    # A cluster configured with legacy parameters refuses execution profiles; it can switch to
    # that mode after the cache was built, so this is checked on each call (one attribute read).
    if session.cluster._config_mode == _ConfigMode.LEGACY:  # noqa: SLF001
        return EXEC_PROFILE_DEFAULT
    return profile


def first_value(row: Any) -> Any:
    """The first column of a row (a tuple here; a dict if a legacy session says so)."""
    return row[0] if isinstance(row, tuple) else next(iter(row.values()))


def row_values(row: Any) -> tuple[Any, ...]:
    """All columns of a row, in order."""
    return tuple(row) if isinstance(row, tuple) else tuple(row.values())
