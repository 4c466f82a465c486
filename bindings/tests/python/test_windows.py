"""Protocol v2 from Python: counting windows, per-item determinism, the device state blob, the
device policy and the account binding."""

import pytest

import blindmatch as bm
from conftest import (
    ACCOUNT, NOW, ORIGIN, THRESHOLD, WINDOW, WINDOWS, at, listed, make_world, options, record_x0,
)

E = bm.BlindMatchError
NEW = bm.InsertResult.NEW


def test_two_sends_of_one_item_in_one_window_open_to_one_x0():
    w = make_world()
    first = w.open(w.maker.create_voucher(listed(7), b"first", b"ad 1", at(WINDOW, 10)))
    second = w.open(w.maker.create_voucher(listed(7), b"second", b"ad 2", at(WINDOW, 80_000)))
    assert first.opened and second.opened and first.window == second.window == WINDOW
    assert record_x0(first.record) == record_x0(second.record)
    assert first.record != second.record  # fresh Q and ciphertexts per send
    other = w.open(w.maker.create_voucher(listed(8), b"other", b"", at(WINDOW, 10)))
    assert record_x0(other.record) != record_x0(first.record)
    # So they count once: with T - 2 more items the account stays below T, and the T-th
    # distinct item reveals both sends.
    account = w.opener.new_account(WINDOW)
    assert account.add(first) == account.add(second) == NEW
    for i in range(THRESHOLD - 2):
        account.add(w.open(w.maker.create_voucher(listed(20 + i), f"r{i}".encode(), b"", NOW)))
    assert account.evaluate().is_below_threshold() and account.opened_count() == THRESHOLD
    account.add(w.open(w.maker.create_voucher(listed(99), b"last", b"", NOW)))
    outcome = account.evaluate()
    assert outcome.is_revealed()
    real = {m.id: m.associated_data for m in outcome.real}
    assert real[b"first"] == b"ad 1" and real[b"second"] == b"ad 2" and len(real) == THRESHOLD + 1


def test_one_item_in_two_windows_opens_to_two_x0():
    w = make_world()
    a = w.open(w.maker.create_voucher(listed(3), b"a", b"", at(4, 0)))
    b = w.open(w.maker.create_voucher(listed(3), b"b", b"", at(5, 0)))
    assert (a.window, b.window) == (4, 5)
    assert record_x0(a.record) != record_x0(b.record)


def test_accounts_are_per_window():
    w = make_world()
    r = w.open(w.maker.create_voucher(listed(0), b"x", b"", at(6, 0)))
    with pytest.raises(E.WrongWindow) as e:
        w.opener.new_account(5).add(r)
    assert (e.value.record_window, e.value.account_window) == (6, 5)
    assert "window 6" in e.value.reason
    with pytest.raises(E.WrongWindow):
        bm.Account.with_records(w.opener.params(), 7, [r.record])
    assert w.opener.new_account(6).add(r) == NEW


def test_windows_never_combine():
    w = make_world()
    account = w.opener.new_account(WINDOW)
    later = w.opener.new_account(WINDOW + 1)
    for i in range(THRESHOLD - 1):
        assert account.add(w.open(w.maker.create_voucher(listed(i), b"a", b"", at(WINDOW, i)))) == NEW
    r = w.open(w.maker.create_voucher(listed(THRESHOLD), b"b", b"", at(WINDOW + 1, 0)))
    assert later.add(r) == NEW
    assert account.evaluate().is_below_threshold() and later.evaluate().is_below_threshold()


def test_a_voucher_opens_only_under_its_account():
    w = make_world()
    v = w.maker.create_voucher(listed(0), b"x", b"", NOW)
    assert w.opener.open_voucher(v, ACCOUNT).opened
    # Filed under another account it stays closed, like any voucher that does not match.
    elsewhere = w.opener.open_voucher(v, b"another account")
    assert not elsewhere.opened and elsewhere.record is None and elsewhere.id == b"x"


class TestDeviceState:
    def test_the_blob_refuses_an_older_window(self, world):
        state = world.maker.check_state(None, at(5, 0))
        state = world.maker.check_state(state, at(5, 3600))  # the same window again: fine
        state = world.maker.check_state(state, at(6, 0))  # a later one: fine
        with pytest.raises(E.StaleWindow) as e:
            world.maker.check_state(state, at(5, 100))
        assert (e.value.window, e.value.newest_window) == (5, 6)
        assert "window 5" in e.value.reason and "window 6" in e.value.reason

    def test_the_blob_refuses_a_second_database_in_a_used_window(self, world):
        state = world.maker.check_state(None, at(5, 0))
        other = make_world(n=10)  # another database (another root), same account
        with pytest.raises(E.ManifestChanged) as e:
            other.maker.check_state(state, at(5, 10))
        assert e.value.window == 5
        # From the next window on, the new database is taken up.
        assert other.maker.check_state(state, at(6, 0))

    def test_vouchers_with_state(self, world):
        one = world.maker.create_voucher_with_state(listed(0), b"a", b"", None, at(8, 0))
        assert bm.peek_voucher(one.voucher).window == 8 and world.open(one.voucher).opened
        requests = [bm.VoucherRequest(hash=listed(i), id=b"b", associated_data=b"") for i in range(3)]
        batch = world.maker.create_vouchers_with_state(requests, one.state, at(9, 0))
        assert [bm.peek_voucher(v).window for v in batch.vouchers] == [9, 9, 9]
        with pytest.raises(E.StaleWindow) as e:
            world.maker.create_voucher_with_state(listed(0), b"a", b"", batch.state, at(8, 10))
        assert (e.value.window, e.value.newest_window) == (8, 9)
        with pytest.raises(E.StaleWindow):
            world.maker.create_vouchers_with_state(requests, batch.state, at(8, 10))

    def test_malformed_blobs(self, world):
        for bad in (b"", b"BMDS", b"XXXX\x01\x00\x00", b"BMDS\x01\x00\x02"):
            with pytest.raises(E.BadInput):
                world.maker.check_state(bad, NOW)
        with pytest.raises(E.UnsupportedVersion):
            world.maker.check_state(b"BMDS\x09\x00\x00", NOW)

    def test_outside_the_schedule(self, world):
        before, after = ORIGIN - 601, at(WINDOWS, 600)
        for t in (before, after):
            with pytest.raises(E.OutsideSchedule):
                world.maker.check_state(None, t)
            with pytest.raises(E.OutsideSchedule):
                world.maker.create_voucher(listed(0), b"x", b"", t)
            with pytest.raises(E.OutsideSchedule):
                world.maker.window_at(t)
        # Within the 600 s clock slack: the first and last windows.
        assert world.maker.window_at(ORIGIN - 600) == 0
        assert world.maker.window_at(at(WINDOWS, 599)) == WINDOWS - 1
        with pytest.raises(E.OutsideSchedule):
            world.maker.create_voucher_for_simulation(listed(0), b"x", b"", WINDOWS, bm.VoucherChoice.REAL)


class TestDevicePolicy:
    def test_the_default_policy_refuses_t3_and_the_test_policy_accepts_it(self):
        server = bm.ServerKey.generate()
        db_bytes = server.build_database(
            [bm.HashList(name="l", hashes=[listed(0)])], options(threshold=3, s_max=4)
        )
        db = bm.Database.from_bytes(db_bytes, server.public_key())
        # The right root: the parameters are what is refused.
        with pytest.raises(E.PolicyRefused) as e:
            bm.VoucherMaker(db, bm.ClientKey.generate(), ACCOUNT, db.root_hash())
        assert "threshold" in e.value.reason
        assert e.value.parameter == bm.PolicyParameter.THRESHOLD
        with pytest.raises(E.PolicyRefused):
            bm.VoucherMaker.new_allow_unpinned_database(db, bm.ClientKey.generate(), ACCOUNT)
        maker = bm.VoucherMaker.new_with_insecure_test_policy(db, bm.ClientKey.generate(), ACCOUNT)
        v = maker.create_voucher(listed(0), b"x", b"", NOW)
        assert bm.Opener(server, db).open_voucher(v, ACCOUNT).opened

    def test_the_default_policy_accepts_core_defaults(self):
        server = bm.ServerKey.generate()
        db_bytes = server.build_database(
            [bm.HashList(name="l", hashes=[listed(0)])], bm.BuildOptions.defaults()
        )
        db = bm.Database.from_bytes(db_bytes, server.public_key())
        maker = bm.VoucherMaker(db, bm.ClientKey.generate(), ACCOUNT, db.root_hash())
        now = db.window_start(3) + 5
        assert maker.window_at(now) == 3
        assert bm.peek_voucher(maker.create_voucher(listed(0), b"x", b"", now)).window == 3

    def test_every_weakened_parameter_is_refused(self):
        server = bm.ServerKey.generate()
        lists = [bm.HashList(name="l", hashes=[listed(0)])]
        defaults = bm.BuildOptions.defaults()
        p = defaults.params()
        weak = {
            "s_max": (
                defaults.with_params(bm.DatabaseParams(p.threshold(), 2, p.rate_lo_ppm(), p.rate_hi_ppm())),
                bm.PolicyParameter.S_MAX,
            ),
            "rate": (
                defaults.with_params(bm.DatabaseParams(p.threshold(), p.s_max(), 0, 0)),
                bm.PolicyParameter.SYNTHETIC_RATE,
            ),
            "window": (defaults.with_schedule(ORIGIN, 60, 10), bm.PolicyParameter.WINDOW_LENGTH),
        }
        for word, (opts, parameter) in weak.items():
            db = bm.Database.from_bytes(server.build_database(lists, opts), server.public_key())
            with pytest.raises(E.PolicyRefused) as e:
                bm.VoucherMaker(db, bm.ClientKey.generate(), ACCOUNT, db.root_hash())
            assert word in e.value.reason, e.value.reason
            assert e.value.parameter == parameter
