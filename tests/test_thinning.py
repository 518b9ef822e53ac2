"""thin(): the one halving rule of the recorder's snapshots and of every reader's cached history."""

from lab.engine.recording.thinning import thin


def test_thin_keeps_every_other_item_and_always_the_newest():
    assert thin(list(range(7))) == [0, 2, 4, 6]
    assert thin(list(range(8))) == [0, 2, 4, 6, 7]
    assert thin([5]) == [5] and thin([]) == []
