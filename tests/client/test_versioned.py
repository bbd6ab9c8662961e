"""A client's view of the shared state converges to the server's, in every interleaving.

The server side is the real core (``SharedState`` and its subscriber mailbox, taken in
parts as the servicer takes it); the client side is the real ``VersionedView``. Hypothesis
chooses the order in which writes are applied, stream messages are delivered and the
client's own writes are answered.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from framecast.client.versioned import VersionedView
from framecast.core.state import SharedState, StateSubscription, entry_size

KEYS = ["x", "y", "z"]

write = st.tuples(
    st.just("write"),
    st.sampled_from(["alice", "bob"]),
    st.sampled_from(KEYS),
    st.one_of(st.none(), st.integers(0, 5)),
)
deliver = st.tuples(st.just("deliver"), st.integers(1, 40))
answer = st.tuples(st.just("answer"))
steps = st.lists(st.one_of(write, deliver, answer), max_size=40)


def _deliver(box: StateSubscription, view: VersionedView, budget: int) -> None:
    part = box.take_part(budget, entry_size)
    if part is None:
        return
    updates = {k: v for k, v in part.fields.items() if v is not None}
    removals = [k for k, v in part.fields.items() if v is None]
    view.receive(part.meta, updates, removals, more=part.more)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(steps)
def test_the_view_converges_whatever_the_interleaving(plan: list[tuple[object, ...]]) -> None:
    state = SharedState()
    view = VersionedView()
    answered: list[tuple[int, dict[str, bytes], list[str]]] = []  # alice's, not yet seen
    with state.subscribe() as box:
        for step in plan:
            if step[0] == "write":
                _, writer, key, value = step
                assert isinstance(key, str)
                assert isinstance(writer, str)
                if writer == "alice" and answered:
                    view.own_write(*answered.pop())  # alice writes one change at a time
                if value is None:
                    version = state.update(writer, removals=[key])
                    change: tuple[dict[str, bytes], list[str]] = ({}, [key])
                else:
                    version = state.update(writer, {key: value})
                    change = ({key: str(value).encode()}, [])
                if writer == "alice":
                    answered.append((version, *change))
            elif step[0] == "deliver":
                budget = step[1]
                assert isinstance(budget, int)
                _deliver(box, view, budget)
            elif answered:
                view.own_write(*answered.pop())
        if answered:
            view.own_write(*answered.pop())
        for _ in range(100):  # the stream catches up
            _deliver(box, view, 10**6)
    assert view.values == {k: str(state[k]).encode() for k in state}
    assert view.complete == state.version


def test_an_own_write_older_than_what_the_stream_brought_is_not_applied() -> None:
    view = VersionedView()
    view.receive(2, {"pen": b'"B"'}, [])  # B's write (version 2) already arrived
    view.own_write(1, {"pen": b'"A"'}, [])  # then A learns its write was version 1
    assert view.values == {"pen": b'"B"'}


def test_an_own_write_newer_than_the_stream_is_shown_until_the_stream_catches_up() -> None:
    view = VersionedView()
    view.receive(1, {"pen": b'"old"'}, [])
    view.own_write(3, {"pen": b'"mine"'}, [])
    assert view.values == {"pen": b'"mine"'}
    view.receive(2, {"pen": b'"other"'}, [])  # older than my write: ignored
    assert view.values == {"pen": b'"mine"'}
    view.receive(4, {"pen": b'"newest"'}, [])
    assert view.values == {"pen": b'"newest"'}


def test_a_removal_is_not_undone_by_an_older_own_write() -> None:
    view = VersionedView()
    view.receive(5, {}, ["pen"])
    view.own_write(4, {"pen": b"1"}, [])
    assert "pen" not in view.values
    view.receive(6, {}, [], more=True)  # a part: tombstones stay until complete
    view.own_write(5, {"pen": b"1"}, [])
    assert "pen" not in view.values
