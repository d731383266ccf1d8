from hypothesis import given
from hypothesis import strategies as st

from pledges.models import ALLOWED_TRANSITIONS, PledgeStatus


def test_canceled_is_final():
    assert ALLOWED_TRANSITIONS[PledgeStatus.CANCELED] == frozenset()


def test_nothing_goes_back_to_pending():
    assert all(PledgeStatus.PENDING not in targets for targets in ALLOWED_TRANSITIONS.values())


@given(st.lists(st.sampled_from(list(PledgeStatus)), max_size=30))
def test_any_sequence_of_events_ends_in_a_reachable_state(events):
    """Whatever order events arrive in, once canceled a pledge stays canceled."""
    status = PledgeStatus.PENDING
    seen_canceled = False
    for wanted in events:
        if wanted in ALLOWED_TRANSITIONS[status]:
            status = wanted
        seen_canceled = seen_canceled or status == PledgeStatus.CANCELED
    if seen_canceled:
        assert status == PledgeStatus.CANCELED
