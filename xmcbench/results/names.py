"""The one rule for names that become file or path parts (dataset, method, run id)."""

from __future__ import annotations

import re

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")  # no separators, no leading dot


def is_safe_name(value: object, max_len: int | None = None) -> bool:
    """Whether `value` can be one path part as is (and, given `max_len`, is short enough)."""
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        return False
    return max_len is None or len(value) <= max_len
