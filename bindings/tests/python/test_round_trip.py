"""The whole protocol from Python: the server builds a database, a device makes vouchers, the
server opens them, and the reveal happens exactly at the threshold."""

import concurrent.futures

import pytest

import blindmatch as bm
from conftest import (
    ACCOUNT, DAY, EPOCH, NOW, ORIGIN, S_MAX, THRESHOLD, WINDOW, WINDOWS, listed, make_world, unlisted,
)


def test_database_verifies_against_the_pinned_key_and_root(world, tmp_path):
    info = world.db.info()
    assert info.epoch == EPOCH == world.db.epoch()
    assert info.entries == 200
    assert info.params == bm.DatabaseParams(threshold=THRESHOLD, s_max=S_MAX, rate_lo_ppm=0, rate_hi_ppm=0)
    assert info.schedule == bm.WindowSchedule(origin=ORIGIN, length_secs=DAY, count=WINDOWS)
    assert world.db.schedule() == info.schedule == world.opener.schedule()
    assert world.db.window_at(NOW) == WINDOW == world.maker.window_at(NOW)
    assert world.db.window_start(WINDOW) == ORIGIN + WINDOW * DAY
    assert info.kinds == [bm.HashKind.SHA256]
    assert len(info.root_hash) == 32 and info.root_hash.hex() == info.root_hash_hex
    assert info.server_fingerprint == world.server.fingerprint()

    pinned = world.server.public_key()
    again = bm.Database.from_bytes(world.db_bytes, pinned, expected_root_hash=info.root_hash)
    assert again.root_hash() == info.root_hash
    path = tmp_path / "db.bmdb"
    path.write_bytes(world.db_bytes)
    loaded = bm.Database.open_file(str(path), pinned, info.root_hash)
    assert loaded.info() == info
    loaded.verify()


def test_build_options_check_parameters_and_keep_core_defaults():
    base = bm.BuildOptions(threshold=5, s_max=8, rate_lo_ppm=0, rate_hi_ppm=0)
    defaults = bm.BuildOptions.defaults()
    set_ = (
        base.with_epoch(9).with_min_sources(2).with_created_unix(1_700_000_000)
        .with_kinds([bm.HashKind.SHA256]).with_expansion(2.0).with_schedule(ORIGIN, 3600, 48)
    )
    assert set_.params() == bm.DatabaseParams(threshold=5, s_max=8, rate_lo_ppm=0, rate_hi_ppm=0)
    assert (set_.epoch(), set_.min_sources(), set_.created_unix()) == (9, 2, 1_700_000_000)
    assert set_.kinds() == [bm.HashKind.SHA256] and set_.expansion() == 2.0
    assert set_.schedule() == bm.WindowSchedule(origin=ORIGIN, length_secs=3600, count=48)
    # Each with_… returns a new object; what is not set is core's default.
    assert (base.epoch(), base.min_sources()) == (defaults.epoch(), defaults.min_sources())
    assert base.expansion() == defaults.expansion()
    assert base.schedule() == defaults.schedule()
    assert base.created_unix() is None and base.kinds() is None
    assert base.with_params(defaults.params()).params() == defaults.params()
    p = bm.DatabaseParams(threshold=5, s_max=8, rate_lo_ppm=100, rate_hi_ppm=300)
    assert (p.threshold(), p.s_max(), p.rate_lo_ppm(), p.rate_hi_ppm()) == (5, 8, 100, 300)
    assert p == bm.DatabaseParams(5, 8, 100, 300) and hash(p) == hash(bm.DatabaseParams(5, 8, 100, 300))
    assert p != bm.DatabaseParams(5, 8, 100, 301)
    d = defaults.params()
    assert 0 < d.rate_lo_ppm() <= d.rate_hi_ppm()


def test_keys_export_and_import():
    key = bm.ClientKey.generate()
    exported = key.export()
    assert len(exported) == 38
    assert bm.ClientKey.from_exported(exported).export() == exported

    server = bm.ServerKey.generate()
    secret = server.export_secret()
    restored = bm.ServerKey.from_secret_bytes(secret)
    assert restored.public_key() == server.public_key()
    assert len(server.public_key()) == 70


def test_members_open_and_non_members_do_not(world):
    for i in range(10):
        v = world.maker.create_voucher(listed(i), f"m{i}".encode(), b"ad", NOW)
        r = world.open(v)
        assert r.opened and r.id == f"m{i}".encode() and r.record is not None
        assert r.window == WINDOW
    for i in range(30):
        v = world.maker.create_voucher(unlisted(i), b"n", b"ad", NOW)
        r = world.open(v)
        assert not r.opened and r.id == b"n" and r.record is None and r.window == WINDOW
    # A synthetic voucher always opens, member or not.
    v = world.maker.create_voucher_for_simulation(
        unlisted(0), b"s", b"", WINDOW, bm.VoucherChoice.SYNTHETIC
    )
    assert world.open(v).opened


def test_voucher_header_and_size(world):
    v = world.maker.create_voucher(listed(0), b"item-17", b"x" * 10, NOW)
    assert bm.peek_voucher(v) == bm.VoucherHeader(epoch=EPOCH, window=WINDOW, id=b"item-17")
    # 308 + 8 (s_max + 1) + the associated-data bucket (256 bytes up to 252 bytes of data).
    assert len(v) == world.db.voucher_len(10) == 308 + 8 * (S_MAX + 1) + 256
    big = world.maker.create_voucher(listed(0), b"i", b"x" * 300, NOW)
    assert len(big) == world.db.voucher_len(300) == 308 + 8 * (S_MAX + 1) + 1024


def test_reveal_happens_exactly_at_the_threshold():
    w = make_world()
    account = w.opener.new_account(WINDOW)
    assert account.window() == WINDOW
    synthetic = 6  # <= s_max
    for i in range(synthetic):
        v = w.maker.create_voucher_for_simulation(
            listed(100 + i), f"syn{i}".encode(), b"never revealed", WINDOW, bm.VoucherChoice.SYNTHETIC
        )
        assert account.add(w.open(v)) == bm.InsertResult.NEW
    # Non-members add nothing; a re-sent real item counts once.
    for i in range(20):
        result = account.add(w.open(w.maker.create_voucher(unlisted(i), b"n", b"", NOW)))
        assert result == bm.InsertResult.NOT_OPENED
    for i in range(THRESHOLD):
        outcome = account.evaluate()
        assert outcome.is_below_threshold(), f"revealed after only {i} real matches"
        assert outcome.opened == account.opened_count()
        v = w.maker.create_voucher(listed(i), f"real{i}".encode(), f"payload {i}".encode(), NOW + i)
        assert account.add(w.open(v)) == bm.InsertResult.NEW
        if i == 0:
            for k in range(3):  # re-sent later in the same window
                again = w.maker.create_voucher(listed(0), b"again", b"payload 0", NOW + 1000 * (k + 1))
                assert account.add(w.open(again)) == bm.InsertResult.NEW
            assert account.evaluate().is_below_threshold()

    outcome = account.evaluate()
    assert outcome.is_revealed()
    real = {m.id: m.associated_data for m in outcome.real}
    want = {f"real{i}".encode(): f"payload {i}".encode() for i in range(THRESHOLD)}
    want[b"again"] = b"payload 0"
    assert real == want
    assert sorted(outcome.synthetic_ids) == sorted(f"syn{i}".encode() for i in range(synthetic))
    assert outcome.rejected_ids == []

    # The same vouchers twice are no-ops; the records persist and restore the same outcome.
    restored = bm.Account(w.opener.params(), WINDOW)
    for rec in account.records():
        assert restored.add_record(rec) == bm.InsertResult.NEW
        assert restored.add_record(rec) == bm.InsertResult.DUPLICATE
    assert restored.evaluate() == outcome
    assert bm.Account.with_records(w.opener.params(), WINDOW, account.records()).evaluate() == outcome


def test_two_accounts_never_combine():
    # Another client key filed under the same account id: its records never help a reveal.
    w = make_world()
    other = bm.VoucherMaker.new_with_insecure_test_policy(w.db, bm.ClientKey.generate(), ACCOUNT)
    account = w.opener.new_account(WINDOW)
    for i in range(THRESHOLD - 1):
        account.add(w.open(w.maker.create_voucher(listed(i), b"a", b"", NOW)))
    for i in range(THRESHOLD - 1):
        account.add(w.open(other.create_voucher(listed(50 + i), b"b", b"", NOW)))
    assert account.evaluate().is_below_threshold()


def test_objects_are_shared_across_threads(world):
    def make(i):
        return world.maker.create_voucher(listed(i % 200), f"t{i}".encode(), b"", NOW)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        vouchers = list(pool.map(make, range(64)))
        results = list(pool.map(world.open, vouchers))
    assert all(r.opened for r in results)
    account = world.opener.new_account(WINDOW)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        added = list(pool.map(account.add, results))
    assert added == [bm.InsertResult.NEW] * 64 and account.opened_count() == 64


def test_by_rate_vouchers_mix_in_synthetics():
    w = make_world(rate_ppm=500_000, n=50)
    opened = [w.open(w.maker.create_voucher(unlisted(i), b"n", b"", NOW)).opened for i in range(200)]
    # Non-members open only when synthetic: about half of them at a 50 % rate.
    assert 50 < sum(opened) < 150
    # The choice is per item and window: the same items later in the window choose the same.
    again = [w.open(w.maker.create_voucher(unlisted(i), b"n", b"", NOW + 60)).opened for i in range(200)]
    assert again == opened


def test_batch_vouchers_match_single_ones(world):
    requests = [
        bm.VoucherRequest(hash=listed(i) if i % 2 else unlisted(i), id=f"b{i}".encode(), associated_data=b"ad")
        for i in range(20)
    ]
    vouchers = world.maker.create_vouchers(requests, NOW)
    assert [bm.peek_voucher(v).id for v in vouchers] == [r.id for r in requests]
    assert [world.open(v).opened for v in vouchers] == [bool(i % 2) for i in range(20)]
    assert world.maker.create_vouchers([], NOW) == []
    bad = requests + [bm.VoucherRequest(hash=listed(0), id=b"x" * 65, associated_data=b"")]
    with pytest.raises(bm.BlindMatchError.BadInput):
        world.maker.create_vouchers(bad, NOW)
    # The server's batch call gives the same results, in order; one malformed voucher never
    # fails the batch: it comes back refused, the others as before.
    batch = world.opener.open_vouchers(vouchers, ACCOUNT)
    assert [(r.opened, r.id, r.window) for r in batch] == [
        (bool(i % 2), f"b{i}".encode(), WINDOW) for i in range(20)
    ]
    assert world.opener.open_vouchers([], ACCOUNT) == []
    mixed = world.opener.open_vouchers(vouchers + [b"garbage"], ACCOUNT)
    assert [r.opened for r in mixed[:20]] == [r.opened for r in batch]
    assert mixed[20].opened is False and mixed[20].refused and mixed[20].record is None
    assert all(r.refused is None for r in batch)
    # Only an account id no voucher could open under fails the whole batch.
    with pytest.raises(bm.BlindMatchError.BadInput):
        world.opener.open_vouchers(vouchers, b"a" * 256)
