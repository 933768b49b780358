"""Room on the stack for the deepest records the readers take: orjson reads JSON Lines values
nested 1,024 levels, while the stdlib encoder, ``repr`` and jsonschema recurse once a level or
more."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Frames added to the interpreter's recursion limit while a deep record is written or
#: explained (a few per level for 1,024 levels; well within the main thread's C stack).
ROOM = 3000


@contextmanager
def room_for_deep_records() -> Iterator[None]:
    """Raise the recursion limit by ROOM for the block, then set it back."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + ROOM)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)
