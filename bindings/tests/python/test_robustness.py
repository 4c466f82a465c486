"""Robustness (issue #13) from Python: the pinned root hash, a database that cannot change under
a device after verification, fresh randomness in a forked process, no membership oracle at
opening, and the account's capacity, reveal keys, rejected records and evaluation beside
concurrent inserts."""

import concurrent.futures
import inspect
import os

import pytest

import blindmatch as bm
from conftest import ACCOUNT, NOW, THRESHOLD, WINDOW, listed, make_world, record_x0, unlisted

E = bm.BlindMatchError
NEW, DUPLICATE, DROPPED = bm.InsertResult.NEW, bm.InsertResult.DUPLICATE, bm.InsertResult.DROPPED


def default_database(server: bm.ServerKey, n: int) -> bm.Database:
    """A database with core's default parameters and schedule (they pass the default policy)."""
    lists = [bm.HashList(name="l", hashes=[listed(i) for i in range(n)])]
    return bm.Database.from_bytes(
        server.build_database(lists, bm.BuildOptions.defaults()), server.public_key()
    )


class TestPinnedRoot:
    def test_the_default_policy_cannot_be_had_without_a_root(self):
        # The app constructor takes the pinned root: there is no way to call it without one.
        params = inspect.signature(bm.VoucherMaker.__init__).parameters
        assert list(params)[1:] == ["database", "key", "account", "pinned_root_hash"]
        assert params["pinned_root_hash"].default is inspect.Parameter.empty
        w = make_world(n=5)
        with pytest.raises(TypeError):
            bm.VoucherMaker(w.db, w.key, ACCOUNT)
        # The other constructors say in their names that they waive it.
        others = {
            name for name, f in vars(bm.VoucherMaker).items()
            if isinstance(f, classmethod) and name.startswith("new")
        }
        assert others == {"new_allow_unpinned_database", "new_with_insecure_test_policy"}

    def test_the_pinned_root_is_accepted(self):
        server = bm.ServerKey.generate()
        db = default_database(server, 5)
        maker = bm.VoucherMaker(db, bm.ClientKey.generate(), ACCOUNT, db.root_hash())
        now = db.window_start(3) + 5
        assert bm.Opener(server, db).open_voucher(
            maker.create_voucher(listed(0), b"x", b"", now), ACCOUNT
        ).opened

    def test_another_root_is_refused(self):
        # Another database the same server key signed, with good parameters: refused.
        server = bm.ServerKey.generate()
        mine, other = default_database(server, 5), default_database(server, 6)
        assert mine.root_hash() != other.root_hash()
        with pytest.raises(E.PolicyRefused) as e:
            bm.VoucherMaker(other, bm.ClientKey.generate(), ACCOUNT, mine.root_hash())
        assert e.value.parameter == bm.PolicyParameter.ROOT
        assert "root hash" in e.value.reason
        # Waived by name (tests and demos only): accepted.
        bm.VoucherMaker.new_allow_unpinned_database(other, bm.ClientKey.generate(), ACCOUNT)

    def test_a_root_of_the_wrong_length_is_bad_input(self):
        server = bm.ServerKey.generate()
        db = default_database(server, 1)
        for bad in (b"", db.root_hash()[:31], db.root_hash() + b"\x00"):
            with pytest.raises(E.BadInput):
                bm.VoucherMaker(db, bm.ClientKey.generate(), ACCOUNT, bad)


class TestDatabaseFile:
    def test_changes_to_the_file_after_loading_do_not_matter(self, tmp_path):
        w = make_world(n=50)
        path = tmp_path / "db.bmdb"
        path.write_bytes(w.db_bytes)
        loaded = bm.Database.open_file(str(path), w.server.public_key(), w.db.root_hash())
        maker = bm.VoucherMaker.new_with_insecure_test_policy(loaded, w.key, ACCOUNT)

        def check():
            for i in range(5):
                assert w.open(maker.create_voucher(listed(i), b"m", b"ad", NOW)).opened
                assert not w.open(maker.create_voucher(unlisted(i), b"n", b"ad", NOW)).opened

        check()
        # Rewritten in place, every byte (the same inode, as a careless updater would): the
        # loaded database is the verified bytes, so vouchers are made as before.
        with open(path, "r+b") as f:
            f.write(b"\xa5" * len(w.db_bytes))
        check()
        # Truncated (a map of the file would fault on the missing pages).
        with open(path, "r+b") as f:
            f.truncate(0)
        check()
        loaded.verify()
        assert loaded.root_hash() == w.db.root_hash()
        # Loading the file again picks the change up: a typed error.
        with pytest.raises(E.BadInput):
            bm.Database.open_file(str(path), w.server.public_key())

    def test_a_rewritten_file_is_picked_up_only_by_loading_it_again(self, tmp_path):
        w = make_world(n=50)
        path = tmp_path / "db.bmdb"
        path.write_bytes(w.db_bytes)
        loaded = bm.Database.open_file(str(path), w.server.public_key())
        other = make_world(n=60)
        path.write_bytes(other.db_bytes)  # in place, another valid database (another key)
        assert loaded.root_hash() == w.db.root_hash()
        reloaded = bm.Database.open_file(str(path), other.server.public_key())
        assert reloaded.root_hash() == other.db.root_hash() != loaded.root_hash()
        with pytest.raises(E.VerificationFailed):
            bm.Database.open_file(str(path), w.server.public_key())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Python 3.12+: fork with threads
def test_a_forked_process_makes_a_different_voucher_for_the_same_input(world):
    """The device draws fresh OS randomness for every voucher: a forked child (a copy of the
    parent's memory, generator state included) still makes a different voucher for the same
    item, id and associated data."""
    maker = bm.VoucherMaker.new_with_insecure_test_policy(world.db, world.key, ACCOUNT)
    item, vid, ad = listed(3), b"same id", b"same associated data"
    maker.create_voucher(item, vid, ad, NOW)  # warm the per-window key cache before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one voucher into the pipe, then leave without pytest's cleanup
        code = 1
        try:
            os.close(read_end)
            voucher = maker.create_voucher(item, vid, ad, NOW)
            with os.fdopen(write_end, "wb") as out:
                out.write(voucher)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    parent = maker.create_voucher(item, vid, ad, NOW)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    size = world.db.voucher_len(len(ad))
    assert len(parent) == len(child) == size
    assert parent != child
    # Both are valid vouchers of the same item in the same window: both open, to the same x0,
    # with different Q and ciphertexts.
    a, b = world.open(parent), world.open(child)
    assert a.opened and b.opened and a.id == b.id == vid
    assert record_x0(a.record) == record_x0(b.record) and a.record != b.record


def test_a_tampered_voucher_is_no_match_and_only_the_operator_counts_it():
    w = make_world(n=20)
    assert w.opener.malformed_count() == 0
    good = w.maker.create_voucher(listed(1), b"id", b"ad", NOW)
    tampered = bytearray(good)
    tampered[-1] ^= 0x80
    assert w.open(bytes(tampered)) == w.open(w.maker.create_voucher(unlisted(1), b"id", b"ad", NOW))
    assert w.opener.malformed_count() == 1
    batch = w.opener.open_vouchers([good, bytes(tampered)], ACCOUNT)
    assert [r.opened for r in batch] == [True, False]
    assert w.opener.malformed_count() == 2
    # Filed under another account, a good voucher is no match and not counted.
    assert not w.opener.open_voucher(good, b"another account").opened
    assert w.opener.malformed_count() == 2


def synthetic_record(w, i: int, id_: bytes) -> bytes:
    v = w.maker.create_voucher_for_simulation(listed(100 + i), id_, b"never", WINDOW, bm.VoucherChoice.SYNTHETIC)
    return w.open(v).record


def real_record(w, i: int, id_: bytes, ad: bytes, offset: int = 0) -> bytes:
    return w.open(w.maker.create_voucher(listed(i), id_, ad, NOW + offset)).record


class TestAccount:
    def test_capacity_drops_and_the_outcome_says_so(self):
        w = make_world(n=120)
        account = w.opener.new_account(WINDOW)
        assert account.capacity() == 4096 and not account.over_capacity()
        account.set_capacity(3)
        records = [synthetic_record(w, i, f"s{i}".encode()) for i in range(5)]
        assert [account.add_record(r) for r in records] == [NEW, NEW, NEW, DROPPED, DROPPED]
        assert account.add_record(records[0]) == DUPLICATE
        assert account.over_capacity() and account.dropped() == 2 and account.opened_count() == 3
        outcome = account.evaluate()
        assert outcome.is_over_capacity()
        assert outcome == bm.RevealOutcome.OVER_CAPACITY(opened=3, dropped=2)
        assert account.records() == records[:3]

    def test_reveal_keys_persist_a_reveal(self):
        w = make_world()
        account = w.opener.new_account(WINDOW)
        assert account.reveal_keys() == []
        for i in range(THRESHOLD):
            account.add_record(real_record(w, i, f"r{i}".encode(), f"ad {i}".encode(), i))
        outcome = account.evaluate()
        assert outcome.is_revealed()
        keys = account.reveal_keys()
        assert len(keys) == 1 and len(keys[0]) == 32
        # The server's store keeps records and keys; restored, the account is as it was.
        restored = bm.Account.with_records(w.opener.params(), WINDOW, account.records())
        restored.add_reveal_key(keys[0])
        restored.add_reveal_key(keys[0])  # twice: a no-op
        assert restored.reveal_keys() == keys and restored.evaluate() == outcome
        # Once revealed, always revealed: a later voucher of the window alone, with the key.
        later = bm.Account(w.opener.params(), WINDOW)
        later.add_record(real_record(w, 150, b"later", b"later ad", 5000))
        assert later.evaluate().is_below_threshold()
        later.add_reveal_key(keys[0])
        again = later.evaluate()
        assert again.is_revealed()
        assert [(m.id, m.associated_data) for m in again.real] == [(b"later", b"later ad")]
        for bad in (b"", keys[0][:31], keys[0] + b"\x00"):
            with pytest.raises(E.BadInput):
                later.add_reveal_key(bad)

    def test_a_record_whose_associated_data_does_not_open_is_rejected(self):
        w = make_world()
        account = w.opener.new_account(WINDOW)
        for i in range(THRESHOLD):
            account.add_record(real_record(w, i, f"r{i}".encode(), b"ad", i))
        # A re-send of item 0 (same x0, fresh Q) whose associated-data ciphertext, the record's
        # last field, is corrupted: skipped and named, never blocking the reveal.
        crafted = bytearray(real_record(w, 0, b"crafted", b"ad", 100))
        crafted[-1] ^= 1
        assert account.add_record(bytes(crafted)) == NEW
        outcome = account.evaluate()
        assert outcome.is_revealed()
        assert sorted(m.id for m in outcome.real) == [f"r{i}".encode() for i in range(THRESHOLD)]
        assert outcome.rejected_ids == [b"crafted"] and outcome.synthetic_ids == []

    def test_evaluations_beside_concurrent_inserts_end_in_one_consistent_reveal(self):
        w = make_world()
        real = [
            real_record(w, i, f"r{i}.{k}".encode(), f"r{i}.{k}".encode(), 10 * i + k)
            for i in range(12) for k in range(2)
        ]
        synthetic = [synthetic_record(w, i, f"s{i}".encode()) for i in range(6)]
        records = real + synthetic
        real_ids = sorted(f"r{i}.{k}".encode() for i in range(12) for k in range(2))
        account = w.opener.new_account(WINDOW)
        seen = []

        def insert(share):
            return [account.add_record(r) for r in share]

        with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
            futures = [pool.submit(insert, records[k::4]) for k in range(4)]
            while not all(f.done() for f in futures):
                seen.append(account.evaluate())
            added = [r for f in futures for r in f.result()]
        assert added == [NEW] * len(records) and account.opened_count() == len(records)
        # Every outcome seen meanwhile: nothing synthetic revealed as real; once revealed,
        # revealed in every later outcome.
        revealed = False
        for o in seen:
            if o.is_revealed():
                revealed = True
                assert all(m.id in real_ids and m.associated_data == m.id for m in o.real)
            else:
                assert o.is_below_threshold() and not revealed
        final = account.evaluate()
        sequential = bm.Account.with_records(w.opener.params(), WINDOW, records).evaluate()
        for o in (final, sequential):
            assert o.is_revealed()
            assert sorted(m.id for m in o.real) == real_ids
            assert sorted(o.synthetic_ids) == sorted(f"s{i}".encode() for i in range(6))
            assert o.rejected_ids == []
