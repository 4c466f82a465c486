"""Shared fixtures: a server, its database, and a device with a voucher maker.

The tests import the `blindmatch` package from the wheel installed into a fresh venv
(scripts/test-python.sh), never from the source tree.

Time is explicit everywhere: the test databases have a schedule of daily windows from ORIGIN,
and the device makes its vouchers at fixed times in it (apps pass the current time).
"""

import dataclasses

import pytest

import blindmatch as bm

THRESHOLD = 5
S_MAX = 8
EPOCH = 3
ORIGIN = 1_800_000_000
DAY = 86_400
WINDOWS = 30
ACCOUNT = b"account-1"


def at(window: int, offset: int = 0) -> int:
    """A time (Unix seconds) `offset` seconds into `window` of the test schedule."""
    return ORIGIN + window * DAY + offset


NOW = at(2, 3600)  # the device's "current time" in most tests: in window 2
WINDOW = 2


def listed(i: int) -> bm.TypedHash:
    """The i-th hash on the test list."""
    return bm.sha256(f"listed item {i}".encode())


def unlisted(i: int) -> bm.TypedHash:
    return bm.sha256(f"not on any list {i}".encode())


def record_x0(record: bytes) -> int:
    """x0 from a stored record (docs/PROTOCOL.md §9.1: LE64 at offset 46 + id_len)."""
    assert record[:5] == b"BMOR\x02"
    id_len = record[13]
    return int.from_bytes(record[46 + id_len : 54 + id_len], "little")


@dataclasses.dataclass
class World:
    server: bm.ServerKey
    db_bytes: bytes
    db: bm.Database
    key: bm.ClientKey
    maker: bm.VoucherMaker
    opener: bm.Opener

    def open(self, voucher: bytes) -> bm.OpenResult:
        """Open a voucher filed under the test account."""
        return self.opener.open_voucher(voucher, ACCOUNT)


def options(threshold=THRESHOLD, s_max=S_MAX, epoch=EPOCH, rate_ppm=0) -> bm.BuildOptions:
    return (
        bm.BuildOptions(threshold=threshold, s_max=s_max, rate_lo_ppm=rate_ppm, rate_hi_ppm=rate_ppm)
        .with_schedule(ORIGIN, DAY, WINDOWS)
        .with_epoch(epoch)
    )


def make_world(threshold=THRESHOLD, s_max=S_MAX, epoch=EPOCH, n=200, rate_ppm=0) -> World:
    server = bm.ServerKey.generate()
    lists = [bm.HashList(name="test-list", hashes=[listed(i) for i in range(n)])]
    db_bytes = server.build_database(lists, options(threshold, s_max, epoch, rate_ppm))
    db = bm.Database.from_bytes(db_bytes, server.public_key())
    key = bm.ClientKey.generate()
    return World(
        server=server,
        db_bytes=db_bytes,
        db=db,
        key=key,
        # T = 5 and rate 0 are below the default device policy: tests use the test policy.
        maker=bm.VoucherMaker.new_with_insecure_test_policy(db, key, ACCOUNT),
        opener=bm.Opener(server, db),
    )


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()
