"""What wrapping a plugin's per-run callable costs per call (the wrapper that names the plugin
when its tagger or interleaver raises). Prints ns per call, bare and wrapped, best of 7.

    .venv/bin/python bench/plugin_call_overhead.py
"""

from __future__ import annotations

import timeit

from converter.hookcalls import guard
from converter.model import Record

CALLS = 1_000_000


def tag(record: Record) -> None:
    """A typical small tagger: one tag per record."""
    record.tags["n"] = 1


def per_call(function: object, records: list[Record]) -> float:
    """Best ns per call of ``function`` over ``records``, as the pipeline's loop calls it."""
    loop = "for record in records:\n    function(record)"
    env = {"function": function, "records": records}
    best = min(timeit.repeat(loop, globals=env, number=CALLS // len(records), repeat=7))
    return best / CALLS * 1e9


def main() -> None:
    """Print the bare and wrapped cost of a tagger call and the difference."""
    records = [Record("zh", i, "", "", "", {}) for i in range(1000)]
    bare = per_call(tag, records)
    wrapped = per_call(guard(tag, "bench", "make_tagger"), records)
    print(f"tagger call, bare:    {bare:6.1f} ns")
    print(f"tagger call, wrapped: {wrapped:6.1f} ns")
    print(f"wrapper overhead:     {wrapped - bare:6.1f} ns per call")


if __name__ == "__main__":
    main()
