"""Which code runs the pair checks' hot paths: the compiled kernels (``converter/_kernels.pyx``,
built at install when a C compiler is there) or the Python code they stand in for, which gives
the same results (``tests/test_kernels.py``). ``CONVERTER_KERNELS=python`` forces the Python
code, e.g. to compare the two."""

from __future__ import annotations

import os
from types import ModuleType

from converter.model import Record


def _load() -> ModuleType | None:
    if os.environ.get("CONVERTER_KERNELS", "").lower() == "python":
        return None
    try:
        from converter import _kernels
    except ImportError:
        return None
    _kernels.bind_record(Record)
    return _kernels


#: The compiled kernels module, or None when the Python code runs.
NATIVE = _load()


def describe() -> str:
    """Which code runs the hot paths, as the report's ``tool.kernels`` names it: ``compiled``
    or ``python``."""
    return "compiled" if NATIVE is not None else "python"
