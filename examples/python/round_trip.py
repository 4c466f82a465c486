#!/usr/bin/env python3
"""The blindmatch protocol end to end from Python, with both sides in one process.

    pip install target/python/wheels/blindmatch-*.whl     # built by scripts/test-python.sh
    python examples/python/round_trip.py

Server: make a key, build a signed database from a hash list. Device: verify the database
against the pinned server key and root hash, make a client key, hash media and make vouchers.
Server: open the vouchers and accumulate the account; nothing is revealed until the threshold.
"""

import blindmatch as bm

THRESHOLD = 3

# --- server: key and database -------------------------------------------------------------
server = bm.ServerKey.generate()
known_media = [f"known image {i}".encode() for i in range(100)]
hash_list = bm.HashList(name="example-org", hashes=[bm.sha256(m) for m in known_media])
# T, s_max and the synthetic rate are checked here; everything else is core's default.
options = bm.BuildOptions(threshold=THRESHOLD, s_max=6, synthetic_rate_ppm=20_000).with_epoch(1)
db_bytes = server.build_database([hash_list], options)
pinned_key = server.public_key()  # shipped inside the app
database = bm.Database.from_bytes(db_bytes, pinned_key)
root = database.root_hash()  # published; auditors compare it out of band
print(f"server: database of {database.info().entries} hashes, T={THRESHOLD}, root {root.hex()[:16]}…")

# --- device: verify, keys, vouchers ---------------------------------------------------------
device_db = bm.Database.from_bytes(db_bytes, pinned_key, expected_root_hash=root)
client_key = bm.ClientKey.generate()
backup = client_key.export()  # to the platform keystore / the account's other devices
maker = bm.VoucherMaker(device_db, bm.ClientKey.from_exported(backup))

outbox = []
for i in range(5):  # ordinary photos: not on the list
    photo = f"holiday photo {i}".encode()
    outbox.append(maker.create_voucher(bm.sha256(photo), f"photo-{i}".encode(), b"msg ref"))
# Items on the list: two more than T, because at the 2 % synthetic rate a match's voucher is
# itself synthetic now and then (that is the device's deniability); with T + 2 matches the
# account reveals unless three of them are synthetic (about 1 run in 10 000).
for i in range(THRESHOLD + 2):
    outbox.append(
        maker.create_voucher(bm.sha256(known_media[i]), f"match-{i}".encode(), f"evidence {i}".encode())
    )
print(f"device: {len(outbox)} vouchers of {len(outbox[0])} bytes each")

# --- server: open and accumulate -------------------------------------------------------------
opener = bm.Opener(server, database)
account = opener.new_account()
for n, voucher in enumerate(outbox, 1):
    result = opener.open_voucher(voucher)
    account.add(result)
    outcome = account.evaluate()
    state = "revealed" if outcome.is_revealed() else f"below threshold ({outcome.opened} opened)"
    print(f"server: voucher {n} {'opened' if result.opened else 'did not open'}; account {state}")

outcome = account.evaluate()
assert outcome.is_revealed(), "T real matches were sent, so the account must reveal"
for m in sorted(outcome.real, key=lambda m: m.id):
    print(f"server: revealed {m.id.decode()} -> {m.associated_data.decode()}")
print(f"server: synthetic vouchers identified: {len(outcome.synthetic_ids)}")

try:
    bm.Database.from_bytes(db_bytes[:-1], pinned_key)
except bm.BlindMatchError.BadInput as e:
    print(f"device: a truncated database is refused: {e.reason}")

# A voucher made for another epoch is refused, naming both epochs.
epoch2 = bm.Database.from_bytes(server.build_database([hash_list], options.with_epoch(2)), pinned_key)
try:
    bm.Opener(server, epoch2).open_voucher(outbox[0])
    raise AssertionError("a voucher for epoch 1 opened under epoch 2")
except bm.BlindMatchError.WrongEpoch as e:
    print(f"server: voucher for epoch {e.voucher_epoch} refused by the epoch-{e.database_epoch} database")
