"""Malformed databases, vouchers and keys from Python: every failure is a typed
`BlindMatchError` subclass, never a crash and never an untyped error."""

import random

import pytest

import blindmatch as bm
from conftest import NOW, listed, make_world, unlisted

E = bm.BlindMatchError


def test_errors_are_one_family():
    for cls in (E.BadInput, E.UnsupportedVersion, E.VerificationFailed, E.WrongEpoch,
                E.OutsideSchedule, E.StaleWindow, E.ManifestChanged, E.PolicyRefused,
                E.WrongWindow, E.WrongKey, E.KindNotListed, E.CorruptVoucher, E.RevealFailed,
                E.BuildFailed, E.Io, E.Internal):
        assert issubclass(cls, bm.BlindMatchError)
        assert issubclass(cls, Exception)


def test_every_error_has_a_reason_and_str_shows_it(world):
    with pytest.raises(E.BadInput) as e:
        bm.Database.from_bytes(b"BMDB", world.server.public_key())
    assert e.value.reason and e.value.line is None
    assert e.value.reason in str(e.value)
    with pytest.raises(E.WrongKey) as e:
        bm.Opener(bm.ServerKey.generate(), world.db)
    assert e.value.reason and e.value.reason in str(e.value)


class TestMalformedDatabase:
    def test_truncated_or_garbage(self, world):
        pinned = world.server.public_key()
        for bad in (b"", b"BMDB", world.db_bytes[:100], world.db_bytes[:-1], b"\x00" * 500):
            with pytest.raises(E.BadInput):
                bm.Database.from_bytes(bad, pinned)
        with pytest.raises(E.BadInput):
            bm.Database.from_bytes(world.db_bytes + b"\x00", pinned)

    def test_newer_format_version(self, world):
        for version in (1, 4):  # v1 is refused as a format this build does not read
            other = bytearray(world.db_bytes)
            assert other[4] == 2
            other[4] = version
            with pytest.raises(E.UnsupportedVersion):
                bm.Database.from_bytes(bytes(other), world.server.public_key())
        # v3 is the fuzzy format (a manifest that ends with the band layout): a v2 file
        # relabelled 3 does not parse.
        other = bytearray(world.db_bytes)
        other[4] = 3
        with pytest.raises(E.BadInput):
            bm.Database.from_bytes(bytes(other), world.server.public_key())

    def test_tampered_table_or_signature(self, world):
        pinned = world.server.public_key()
        table = bytearray(world.db_bytes)
        table[-5] ^= 0x01
        with pytest.raises(E.VerificationFailed):
            bm.Database.from_bytes(bytes(table), pinned)

    def test_wrong_pinned_key_or_root(self, world):
        with pytest.raises(E.VerificationFailed):
            bm.Database.from_bytes(world.db_bytes, bm.ServerKey.generate().public_key())
        with pytest.raises(E.VerificationFailed):
            bm.Database.from_bytes(world.db_bytes, world.server.public_key(), b"\x00" * 32)
        with pytest.raises(E.BadInput):
            bm.Database.from_bytes(world.db_bytes, world.server.public_key(), b"\x00" * 31)

    def test_missing_file(self, world, tmp_path):
        with pytest.raises(E.Io):
            bm.Database.open_file(str(tmp_path / "none.bmdb"), world.server.public_key())

    def test_random_mutations_never_escape_as_untyped_errors(self, world):
        rng = random.Random(4)
        pinned = world.server.public_key()
        for _ in range(60):
            b = bytearray(world.db_bytes)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            try:
                bm.Database.from_bytes(bytes(b[: rng.choice([len(b), rng.randrange(len(b))])]), pinned)
            except bm.BlindMatchError as e:
                assert not isinstance(e, E.Internal)


class TestMalformedVoucher:
    def test_garbage_and_truncation(self, world):
        v = world.maker.create_voucher(listed(0), b"id", b"ad", NOW)
        for bad in (b"", b"BV", b"\x00" * 100, v[:-1], v + b"\x00", v[:84], bytes(len(v))):
            with pytest.raises(E.BadInput):
                world.open(bad)
        with pytest.raises(E.BadInput):
            bm.peek_voucher(b"xx")

    def test_newer_voucher_version(self, world):
        v = bytearray(world.maker.create_voucher(listed(0), b"id", b"ad", NOW))
        v[2] = 9
        with pytest.raises(E.UnsupportedVersion):
            world.open(bytes(v))
        v[2] = 1  # a v1 voucher: refused as such
        with pytest.raises(E.UnsupportedVersion):
            world.open(bytes(v))

    def test_wrong_epoch_names_both_epochs(self, world):
        other = make_world(epoch=world.db.epoch() + 1, n=20)
        v = other.maker.create_voucher(listed(0), b"id", b"ad", NOW)
        with pytest.raises(E.WrongEpoch) as e:
            world.open(v)
        assert e.value.voucher_epoch == world.db.epoch() + 1 == bm.peek_voucher(v).epoch
        assert e.value.database_epoch == world.db.epoch() == world.opener.epoch()
        assert f"epoch {world.db.epoch() + 1}" in e.value.reason

    def test_tampered_inner_layer_is_no_match_and_counted(self, world):
        # The outer layer opens, the inner one does not: reported exactly as an unlisted
        # item's voucher (no membership oracle for a sender), counted for the operator.
        v = bytearray(world.maker.create_voucher(listed(1), b"id", b"ad", NOW))
        v[-1] ^= 0x80
        before = world.opener.malformed_count()
        r = world.open(bytes(v))
        miss = world.open(world.maker.create_voucher(unlisted(1), b"id", b"ad", NOW))
        assert r == miss == bm.OpenResult(opened=False, id=b"id", window=2, record=None, refused=None)
        assert world.opener.malformed_count() == before + 1

    def test_random_mutations_are_typed_or_no_match(self, world):
        rng = random.Random(7)
        base = world.maker.create_voucher(listed(2), b"id", b"ad", NOW)
        for _ in range(300):
            b = bytearray(base)
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            try:
                world.open(bytes(b))
            except bm.BlindMatchError as e:
                assert not isinstance(e, E.Internal)

    def test_bad_records(self, world):
        account = world.opener.new_account(2)
        with pytest.raises(E.BadInput):
            account.add_record(b"BMOR\x02garbage")
        with pytest.raises(E.UnsupportedVersion):
            account.add_record(b"BMOR\x01garbage")  # a v1 record
        with pytest.raises(E.BadInput):
            account.add(bm.OpenResult(opened=True, id=b"x", window=2, record=b"\x00" * 40, refused=None))
        not_opened = bm.OpenResult(opened=False, id=b"x", window=2, record=None, refused=None)
        assert account.add(not_opened) == bm.InsertResult.NOT_OPENED
        # A record from a database with other parameters is refused.
        other = make_world(threshold=3, s_max=2, n=10)
        r = other.open(other.maker.create_voucher(listed(0), b"x", b"", NOW))
        with pytest.raises(E.BadInput):
            account.add(r)
        with pytest.raises(E.BadInput):
            bm.Account.with_records(world.opener.params(), 2, [b"garbage"])


class TestMalformedKeys:
    def test_client_key(self):
        good = bm.ClientKey.generate().export()
        for bad in (b"", good[:-1], good + b"\x00", b"XXXX" + good[4:]):
            with pytest.raises(E.BadInput):
                bm.ClientKey.from_exported(bad)
        newer = bytearray(good)
        newer[4] = 2
        with pytest.raises(E.UnsupportedVersion):
            bm.ClientKey.from_exported(bytes(newer))

    def test_server_keys(self, world):
        secret = world.server.export_secret()
        for bad in (b"", secret[:-1], secret[:6] + b"\x00" * 32 + secret[38:], b"\xff" * 70):
            with pytest.raises(E.BadInput):
                bm.ServerKey.from_secret_bytes(bad)
        public = world.server.public_key()
        for bad in (b"", public[:-1], public[:6] + b"\xff" * 32 + public[38:]):
            with pytest.raises(E.BadInput):
                bm.Database.from_bytes(world.db_bytes, bad)

    def test_opener_with_the_wrong_server_key(self, world):
        with pytest.raises(E.WrongKey):
            bm.Opener(bm.ServerKey.generate(), world.db)


class TestBadArguments:
    def test_voucher_arguments(self, world):
        with pytest.raises(E.BadInput):
            world.maker.create_voucher(listed(0), b"x" * 65, b"", NOW)
        with pytest.raises(E.BadInput):
            world.maker.create_voucher(listed(0), b"x", b"a" * 65533, NOW)
        with pytest.raises(E.BadInput):
            world.maker.create_voucher(
                bm.TypedHash(kind=bm.HashKind.SHA256, bytes=b"\x01" * 31), b"x", b"", NOW
            )
        with pytest.raises(E.KindNotListed):
            world.maker.create_voucher(bm.md5(b"x"), b"x", b"", NOW)
        with pytest.raises(E.BadInput):
            bm.VoucherMaker.new_with_insecure_test_policy(world.db, world.key, b"a" * 256)
        with pytest.raises(E.BadInput):
            world.opener.open_voucher(world.maker.create_voucher(listed(0), b"x", b"", NOW), b"a" * 256)

    def test_parameters_are_checked_on_construction(self):
        for t, s, lo, hi in ((1, 8, 0, 0), (257, 8, 0, 0), (5, 1025, 0, 0), (5, 0, 0, 1),
                             (5, 8, 0, 1_000_000), (5, 8, 200, 100)):
            with pytest.raises(E.BadInput):
                bm.BuildOptions(threshold=t, s_max=s, rate_lo_ppm=lo, rate_hi_ppm=hi)
            with pytest.raises(E.BadInput):
                bm.DatabaseParams(threshold=t, s_max=s, rate_lo_ppm=lo, rate_hi_ppm=hi)
        defaults = bm.BuildOptions.defaults()
        for origin, length, count in ((0, 59, 10), (0, 60, 0), (0, 60, (1 << 20) + 1), (2**63, 60, 1)):
            with pytest.raises(E.BadInput):
                defaults.with_schedule(origin, length, count)

    def test_build_arguments(self):
        server = bm.ServerKey.generate()
        lists = [bm.HashList(name="a", hashes=[listed(0)])]
        defaults = bm.BuildOptions.defaults()
        with pytest.raises(E.BadInput):
            server.build_database(lists, defaults.with_min_sources(2))
        with pytest.raises(E.BadInput):
            server.build_database(lists + [bm.HashList(name="a", hashes=[])], defaults)
        with pytest.raises(E.BadInput):
            server.build_database(lists, defaults.with_expansion(0.5))
        with pytest.raises(E.BadInput):
            server.build_database(lists, defaults.with_kinds([bm.HashKind.MD5]))
        with pytest.raises(E.BadInput):
            server.build_database(
                [bm.HashList(name="a", hashes=[bm.TypedHash(kind=bm.HashKind.MD5, bytes=b"")])],
                defaults,
            )

    def test_messages_carry_no_hash_bytes(self, world):
        h = bm.TypedHash(kind=bm.HashKind.SHA256, bytes=bytes(range(31)))
        with pytest.raises(E.BadInput) as e:
            world.maker.create_voucher(h, b"x", b"", NOW)
        assert h.bytes.hex()[:8] not in str(e.value)
