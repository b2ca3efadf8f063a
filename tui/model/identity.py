"""Change found by identity. The live view keeps the very objects of whatever did not change, so
"changed" means "another object" and is checked without comparing contents."""

from __future__ import annotations

from collections.abc import Sequence


def identical(a: Sequence, b: Sequence) -> bool:
    """The same objects in the same order."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def changed_positions(old: Sequence, new: Sequence) -> list[int]:
    """Where `new` holds another object than `old` (compared up to the shorter one)."""
    return [i for i, (a, b) in enumerate(zip(old, new)) if a is not b]


def few_changed(old: Sequence, new: Sequence) -> list[int] | None:
    """The changed positions of a sequence modified in place, or None when its length changed or
    more than an eighth of it did (then building it again costs less than patching)."""
    if len(old) != len(new):
        return None
    changed = changed_positions(old, new)
    return None if len(changed) * 8 > len(new) else changed
