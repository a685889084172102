"""The sync engine's guards as pure decisions: no database, no clock, no feed."""

from __future__ import annotations

from datetime import UTC, datetime

from aggregator.models import PurchaseOption
from aggregator.sync.guards import (
    empty_feed,
    interruptible_not_cheaper,
    older_than_stored,
    too_many_rejects,
)
from tests.offers import build_offer


def test_a_feed_may_reject_up_to_its_share_of_rows() -> None:
    assert too_many_rejects(seen=80, rejected=20, max_share=0.2) is None
    message = too_many_rejects(seen=79, rejected=21, max_share=0.2)
    assert message is not None and message.startswith(
        "21 of 100 rows were rejected (more than 20%)"
    )
    assert too_many_rejects(seen=0, rejected=0, max_share=0.2) is None


def test_an_empty_feed_is_refused_unless_unchanged_or_allowed_to_shrink() -> None:
    assert empty_feed(0, has_unchanged=False, may_shrink=False) is not None
    assert "--force" in str(empty_feed(0, has_unchanged=False, may_shrink=False))
    assert empty_feed(0, has_unchanged=True, may_shrink=False) is None
    assert empty_feed(0, has_unchanged=False, may_shrink=True) is None
    assert empty_feed(1, has_unchanged=False, may_shrink=False) is None


def test_a_recording_older_than_the_last_good_sync_is_refused() -> None:
    seen, synced = datetime(2024, 9, 16, tzinfo=UTC), datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    assert older_than_stored(seen, synced) == (
        "the recording's prices (seen 2024-09-16) are older than the stored ones "
        "(synced 2025-01-02 03:04); nothing was changed"
    )
    assert older_than_stored(synced, seen) is None
    assert older_than_stored(None, synced) is None  # not a replay
    assert older_than_stored(seen, None) is None  # nothing stored yet


def test_a_spot_price_must_be_below_on_demand() -> None:
    spot = build_offer(purchase_option=PurchaseOption.SPOT, price_per_hour=98.32)
    assert interruptible_not_cheaper(spot, 98.32) == (
        "spot price 98.32 USD is not below the on-demand price 98.32 of p5.48xlarge in us-east-1"
    )
    assert interruptible_not_cheaper(spot, 98.33) is None
    assert interruptible_not_cheaper(spot, None) is None  # no on-demand price to compare
    assert interruptible_not_cheaper(build_offer(price_per_hour=200.0), 98.32) is None
