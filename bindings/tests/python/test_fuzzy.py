"""Fuzzy databases from Python: near-duplicate matching of pictures without knowing about bands.

The server builds a fuzzy database from the PDQ hashes of core's test pictures; the device sends
each picture's image file bytes through `create_voucher_for_image` (a probe bundle on a fuzzy
database); the server opens bundles as it opens vouchers. The near-duplicates are a JPEG
quality-70 copy of `astronaut.png` (bindings/tests/data, made once with the Rust `image` crate)
and core's half-size copies of the other pictures.
"""

import pathlib
import struct
import zlib

import pytest

import blindmatch as bm
from conftest import ACCOUNT, NOW, WINDOW, options

ROOT = pathlib.Path(__file__).resolve().parents[3]
PICTURES = ROOT / "core" / "tests" / "data" / "pdq"
DATA = ROOT / "bindings" / "tests" / "data"


def picture(name: str) -> bytes:
    return (PICTURES / name).read_bytes()


def astronaut_q70() -> bytes:
    return (DATA / "astronaut-q70.jpg").read_bytes()


def flat_png(width=64, height=64, grey=120) -> bytes:
    """A flat grey 8-bit RGB PNG, written by hand (no imaging library in the test venv)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([grey]) * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def pdq_of(data: bytes) -> bm.TypedHash:
    r = bm.pdq_hash_image(data)
    assert r.hash is not None and r.quality >= bm.default_min_pdq_quality()
    return r.hash


def fuzzy_world(names, threshold=3, s_max=4, layout=None):
    server = bm.ServerKey.generate()
    opts = options(threshold=threshold, s_max=s_max)
    opts = opts.with_fuzzy() if layout is None else opts.with_fuzzy_layout(*layout)
    lists = [bm.HashList(name="pictures", hashes=[pdq_of(picture(n)) for n in names])]
    db = bm.Database.from_bytes(server.build_database(lists, opts), server.public_key())
    # T = 3 and rate 0 are below the default device policy: tests use the test policy.
    maker = bm.VoucherMaker.new_with_insecure_test_policy(db, bm.ClientKey.generate(), ACCOUNT)
    return db, maker, bm.Opener(server, db)


def test_a_jpeg_copy_of_a_listed_picture_opens_and_an_unrelated_picture_does_not():
    db, maker, opener = fuzzy_world(["astronaut.png", "rocket.png"])
    assert db.is_fuzzy() and maker.is_fuzzy()
    assert db.info().fuzzy == bm.FuzzyLayout(bands=6, band_bits=32, probes=14)
    assert bm.HashKind.PDQ in db.info().kinds
    # The copy's PDQ hash differs from the listed one: an exact database would not match it.
    assert pdq_of(astronaut_q70()) != pdq_of(picture("astronaut.png"))

    bundle = maker.create_voucher_for_image(astronaut_q70(), b"copy", b"note", NOW)
    assert bundle is not None and len(bundle) == db.bundle_len(4)
    assert bm.peek_voucher(bundle) == bm.VoucherHeader(epoch=db.epoch(), window=WINDOW, id=b"copy")
    r = opener.open_voucher(bundle, ACCOUNT)
    assert r.opened and r.record is not None and (r.id, r.window) == (b"copy", WINDOW)

    other = maker.create_voucher_for_image(picture("camera.png"), b"cam", b"", NOW)
    r = opener.open_voucher(other, ACCOUNT)
    assert not r.opened and r.record is None and (r.id, r.window) == (b"cam", WINDOW)
    # Another account's bundle does not open under this one.
    assert not opener.open_voucher(bundle, b"someone else").opened


def test_open_vouchers_takes_bundles_and_refuses_malformed_ones_per_item():
    _, maker, opener = fuzzy_world(["astronaut.png"])
    bundle = maker.create_voucher_for_image(astronaut_q70(), b"a", b"", NOW)
    other = maker.create_voucher_for_image(picture("camera.png"), b"c", b"", NOW)
    wrong_k = bytearray(bundle)
    wrong_k[84] ^= 1  # the layer count, K = L·P
    results = opener.open_vouchers([bundle, other, bundle[:-1], bytes(wrong_k), b"BB"], ACCOUNT)
    assert [r.opened for r in results] == [True, False, False, False, False]
    assert [r.refused is None for r in results] == [True, True, False, False, False]
    assert "bundle" in results[3].refused
    with pytest.raises(bm.BlindMatchError.BadInput):
        opener.open_voucher(bundle[:-1], ACCOUNT)


def test_variants_of_three_listed_pictures_reveal_at_t_3_with_the_device_state():
    names = ["astronaut.png", "camera.png", "rocket.png", "text.png"]
    _, maker, opener = fuzzy_world(names, threshold=3)
    account = opener.new_account(WINDOW)
    state = None
    sent = [
        ("astronaut", astronaut_q70()),
        ("camera", picture("camera-half.png")),
        ("rocket", picture("rocket-half.png")),
    ]
    for i, (name, data) in enumerate(sent):
        made = maker.create_voucher_for_image_with_state(data, name.encode(), name.encode(), state, NOW)
        state = made.state
        assert account.add(opener.open_voucher(made.voucher, ACCOUNT)) == bm.InsertResult.NEW
        outcome = account.evaluate()
        if i < 2:
            assert outcome.is_below_threshold(), outcome
    assert outcome.is_revealed(), outcome
    assert sorted(m.associated_data for m in outcome.real) == [b"astronaut", b"camera", b"rocket"]
    # The state blob refuses an older window, as for vouchers.
    with pytest.raises(bm.BlindMatchError.StaleWindow):
        maker.create_voucher_for_image_with_state(astronaut_q70(), b"x", b"", state, NOW - 86_400)


def test_an_exact_database_listing_pdq_gets_a_pdq_voucher():
    server = bm.ServerKey.generate()
    listed = pdq_of(picture("astronaut.png"))
    lists = [bm.HashList(name="pictures", hashes=[listed])]
    db = bm.Database.from_bytes(server.build_database(lists, options(threshold=2, s_max=2)), server.public_key())
    assert not db.is_fuzzy() and db.info().fuzzy is None
    maker = bm.VoucherMaker.new_with_insecure_test_policy(db, bm.ClientKey.generate(), ACCOUNT)
    assert not maker.is_fuzzy()
    opener = bm.Opener(server, db)
    v = maker.create_voucher_for_image(picture("astronaut.png"), b"a", b"", NOW)
    assert len(v) == db.voucher_len(0) and v[:2] == b"BV"
    assert opener.open_voucher(v, ACCOUNT).opened
    # Exact matching: the JPEG copy's hash is another hash, which is not listed.
    assert not opener.open_voucher(maker.create_voucher_for_image(astronaut_q70(), b"j", b"", NOW), ACCOUNT).opened
    with pytest.raises(bm.BlindMatchError.BadInput):
        db.bundle_len(0)


def test_errors_and_the_quality_gate():
    _, fuzzy_maker, _ = fuzzy_world(["astronaut.png"], layout=(4, 16, 8))
    server = bm.ServerKey.generate()
    lists = [bm.HashList(name="exact", hashes=[bm.sha256(b"x")])]
    db = bm.Database.from_bytes(server.build_database(lists, options(threshold=2, s_max=2)), server.public_key())
    sha_maker = bm.VoucherMaker.new_with_insecure_test_policy(db, bm.ClientKey.generate(), ACCOUNT)
    # An exact database that does not list pdq: the unlisted-kind error of create_voucher.
    with pytest.raises(bm.BlindMatchError.KindNotListed):
        sha_maker.create_voucher_for_image(picture("astronaut.png"), b"", b"", NOW)
    # Not an image, a truncated one: BadInput, and the reason never quotes the bytes.
    for bad in (b"", b"secret-looking bytes", picture("rocket.png")[:400]):
        with pytest.raises(bm.BlindMatchError.BadInput) as e:
            fuzzy_maker.create_voucher_for_image(bad, b"", b"", NOW)
        assert "secret" not in str(e.value)
        with pytest.raises(bm.BlindMatchError.BadInput):
            bm.pdq_hash_image(bad)
    # Typed errors as create_voucher's: an id over 64 bytes, a time outside the schedule.
    with pytest.raises(bm.BlindMatchError.BadInput):
        fuzzy_maker.create_voucher_for_image(astronaut_q70(), b"i" * 65, b"", NOW)
    with pytest.raises(bm.BlindMatchError.OutsideSchedule):
        fuzzy_maker.create_voucher_for_image(astronaut_q70(), b"", b"", 0)
    # A flat picture is below the default quality gate: nothing to send (the state untouched).
    flat = flat_png()
    r = bm.pdq_hash_image(flat)
    assert r.hash is None and r.quality < bm.default_min_pdq_quality()
    assert fuzzy_maker.create_voucher_for_image(flat, b"", b"", NOW) is None
    assert fuzzy_maker.create_voucher_for_image_with_state(flat, b"", b"", None, NOW) is None
    assert fuzzy_maker.create_voucher_for_image(flat, b"", b"", NOW, min_quality=0) is not None
    # Layouts are checked.
    for layout in ((0, 32, 14), (6, 7, 14), (6, 32, 0), (32, 32, 64)):
        with pytest.raises(bm.BlindMatchError.BadInput):
            options().with_fuzzy_layout(*layout)
    assert options().fuzzy_layout() is None
    assert options().with_fuzzy().fuzzy_layout() == bm.FuzzyLayout(bands=6, band_bits=32, probes=14)

