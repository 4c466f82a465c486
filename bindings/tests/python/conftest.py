"""Shared fixtures: a server, its database, and a device with a voucher maker.

The tests import the `blindmatch` package from the wheel installed into a fresh venv
(scripts/test-python.sh), never from the source tree.
"""

import dataclasses

import pytest

import blindmatch as bm

THRESHOLD = 5
S_MAX = 8
EPOCH = 3


def listed(i: int) -> bm.TypedHash:
    """The i-th hash on the test list."""
    return bm.sha256(f"listed item {i}".encode())


def unlisted(i: int) -> bm.TypedHash:
    return bm.sha256(f"not on any list {i}".encode())


@dataclasses.dataclass
class World:
    server: bm.ServerKey
    db_bytes: bytes
    db: bm.Database
    key: bm.ClientKey
    maker: bm.VoucherMaker
    opener: bm.Opener


def make_world(threshold=THRESHOLD, s_max=S_MAX, epoch=EPOCH, n=200, rate_ppm=0) -> World:
    server = bm.ServerKey.generate()
    options = bm.BuildOptions(
        threshold=threshold, s_max=s_max, synthetic_rate_ppm=rate_ppm
    ).with_epoch(epoch)
    lists = [bm.HashList(name="test-list", hashes=[listed(i) for i in range(n)])]
    db_bytes = server.build_database(lists, options)
    db = bm.Database.from_bytes(db_bytes, server.public_key())
    key = bm.ClientKey.generate()
    return World(
        server=server,
        db_bytes=db_bytes,
        db=db,
        key=key,
        maker=bm.VoucherMaker(db, key),
        opener=bm.Opener(server, db),
    )


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()
