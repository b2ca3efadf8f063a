"""Change found by identity (tui.model.identity)."""

from __future__ import annotations

from tui.model.identity import changed_positions, few_changed, identical


def test_identity_not_equality_decides():
    a, b = [1000], [1000]
    assert identical((a, b), (a, b)) and not identical((a, b), (a, [1000])) and not identical((a,), (a, b))
    assert changed_positions((a, b), (a, [1000])) == [1]


def test_few_changed_gives_up_on_a_length_change_or_more_than_an_eighth():
    old = tuple([i] for i in range(16))
    two = (*old[:14], [14], [15])
    assert few_changed(old, two) == [14, 15]
    assert few_changed(old, (*old[:13], [13], [14], [15])) is None
    assert few_changed(old, old[:15]) is None
    assert few_changed(old, old) == []
