"""What every store promises the domain, on SQLite and on PostgreSQL: atomic() and
after_commit()."""

from __future__ import annotations

import pytest
from store_backends import StoreFactory

from esl_recorder.domain.options import RecordOptions
from esl_recorder.domain.recording import Recording


def rec(sid: str) -> Recording:
    return Recording(sid=sid, call_uuid="c-" + sid, node="fs1", path=f"/r/{sid}.wav",
                     options=RecordOptions(), account="a", created_at=1.0)


def test_a_block_is_committed_whole_and_seen_by_others_after_commit(
        store_factory: StoreFactory) -> None:
    store, other = store_factory(), store_factory()
    seen: list[tuple[bool, int]] = []

    def committed() -> None:  # what another connection sees when the callback runs
        seen.append((other.get_recording("RE1") is not None, other.outbox_count("pending")))

    with store.atomic():
        store.insert_recording(rec("RE1"))
        with store.atomic():  # nested: joins the outer transaction
            store.enqueue("cb", "RE1", "http://a.test:80", {"n": 1}, now=1.0)
            store.after_commit(committed)
        assert seen == []  # not before the outermost block commits
    assert seen == [(True, 1)]
    store.after_commit(lambda: seen.append((False, -1)))  # outside a block: at once
    assert seen[-1] == (False, -1)


def test_a_block_that_raises_leaves_nothing_and_calls_nothing(
        store_factory: StoreFactory) -> None:
    store = store_factory()
    called: list[str] = []
    with pytest.raises(ZeroDivisionError), store.atomic():
        store.insert_recording(rec("RE1"))
        store.enqueue("cb", "RE1", "http://a.test:80", {}, now=1.0)
        store.after_commit(lambda: called.append("committed"))
        _ = 1 / 0
    assert store.get_recording("RE1") is None and store.outbox_count("pending") == 0
    assert called == []
    with store.atomic():  # usable again, and its callbacks are its own
        store.after_commit(lambda: called.append("next"))
    assert called == ["next"]


def test_policy_patches_are_kept_and_replaced_per_owner(store_factory: StoreFactory) -> None:
    """The Kazoo API's changes to policy documents (domain.policies.PolicyRepository)."""
    store = store_factory()
    store.save_policy_patch("acme", "user", "alice", '{"record_call": true}', 1)
    store.save_policy_patch("acme", "device", "alice", '{"record_call": false}', 1)
    store.save_policy_patch("acme", "user", "alice", '{"record_call": null}', 2)
    assert sorted(store_factory().policy_patches()) == [
        ("acme", "device", "alice", '{"record_call": false}', 1),
        ("acme", "user", "alice", '{"record_call": null}', 2)]


def test_the_claims_of_a_stopped_sole_daemon_are_due_again_at_its_restart(
        store_factory: StoreFactory) -> None:
    before, after = store_factory(), store_factory()  # one daemon, before and after kill -9
    item = before.enqueue("cb", "K1", "http://a.test:80", {}, 10.0)
    assert before.claim([item], 10.0, 70.0) == {item}  # its attempt cut by the kill
    before.close()
    after.release_claims(11.0)
    assert [i.id for i in after.due(11.0)] == [item]  # at once, not at the lease's end (70)
    assert after.claim([item], 11.0, 71.0) == {item}
