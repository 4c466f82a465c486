#!/usr/bin/env python3
"""The blindmatch protocol end to end from Python, with both sides in one process.

    pip install target/python/wheels/blindmatch-*.whl     # built by scripts/test-python.sh
    python examples/python/round_trip.py

Server: make a key, build a signed database from a hash list (core's default weekly window
schedule). Device: verify the database against the pinned server key and root hash, make a
client key, check the device state for the current time, hash media and make vouchers for the
current time. Server: open the vouchers under the account they were made for, file them per
counting window, and accumulate; nothing is revealed until the threshold.
"""

import time

import blindmatch as bm

THRESHOLD = 3
ACCOUNT = b"user-42"  # the id the server files this account's vouchers under

# --- server: key and database -------------------------------------------------------------
server = bm.ServerKey.generate()
known_media = [f"known image {i}".encode() for i in range(100)]
hash_list = bm.HashList(name="example-org", hashes=[bm.sha256(m) for m in known_media])
# T, s_max and the synthetic-rate range are checked here; everything else (the window
# schedule among it) is core's default.
options = bm.BuildOptions(threshold=THRESHOLD, s_max=6, rate_lo_ppm=10_000, rate_hi_ppm=30_000).with_epoch(1)
db_bytes = server.build_database([hash_list], options)
pinned_key = server.public_key()  # shipped inside the app
database = bm.Database.from_bytes(db_bytes, pinned_key)
root = database.root_hash()  # published; auditors compare it out of band
schedule = database.info().schedule
print(
    f"server: database of {database.info().entries} hashes, T={THRESHOLD}, root {root.hex()[:16]}…, "
    f"{schedule.count} windows of {schedule.length_secs // 86_400} days"
)

# --- device: verify, keys, device state, vouchers -------------------------------------------
device_db = bm.Database.from_bytes(db_bytes, pinned_key, expected_root_hash=root)
client_key = bm.ClientKey.generate()
backup = client_key.export()  # to the platform keystore / the account's other devices
# An app's maker is pinned to the root hash it obtained independently of the server (shipped
# with the app, or checked against a transparency log); T = 3 is far below the device policy's
# floor, so it refuses this database:
try:
    bm.VoucherMaker(device_db, client_key, ACCOUNT, root)
    raise AssertionError("the default policy accepted T = 3")
except bm.BlindMatchError.PolicyRefused as e:
    assert e.parameter == bm.PolicyParameter.THRESHOLD
    print(f"device: the default policy refuses this demo database: {e.reason}")
# This demo uses the insecure test policy instead, never an app.
maker = bm.VoucherMaker.new_with_insecure_test_policy(device_db, bm.ClientKey.from_exported(backup), ACCOUNT)

requests = [  # ordinary photos: not on the list
    bm.VoucherRequest(hash=bm.sha256(f"holiday photo {i}".encode()), id=f"photo-{i}".encode(), associated_data=b"msg ref")
    for i in range(5)
]
# Items on the list: more than T, because at this account's secret synthetic rate (1–3 %) a
# listed item is now and then synthetic in a window (that is the device's deniability); with
# T + 3 distinct matches the account reveals unless four of them are synthetic (at a 3 % rate
# about one run in 100 000).
requests += [
    bm.VoucherRequest(hash=bm.sha256(known_media[i]), id=f"match-{i}".encode(), associated_data=f"evidence {i}".encode())
    for i in range(THRESHOLD + 3)
]
now = int(time.time())  # apps pass the current time
device_state = None  # the app's stored state blob: None until its first vouchers
made = maker.create_vouchers_with_state(requests, device_state, now)
device_state = made.state  # store it before sending the vouchers
outbox = made.vouchers
print(f"device: {len(outbox)} vouchers of {len(outbox[0])} bytes each in window {maker.window_at(now)}")

# --- server: open under the account, one account per (account id, window) --------------------
opener = bm.Opener(server, database)
accounts = {}
for n, result in enumerate(opener.open_vouchers(outbox, ACCOUNT), 1):
    account = accounts.setdefault(result.window, opener.new_account(result.window))
    account.add(result)
    outcome = account.evaluate()
    state = "revealed" if outcome.is_revealed() else f"below threshold ({outcome.opened} opened)"
    print(f"server: voucher {n} {'opened' if result.opened else 'did not open'}; window {result.window} {state}")

(window, account), = accounts.items()
outcome = account.evaluate()
assert outcome.is_revealed(), "T real matches were sent, so the account must reveal"
for m in sorted(outcome.real, key=lambda m: m.id):
    print(f"server: revealed {m.id.decode()} -> {m.associated_data.decode()}")
print(f"server: synthetic vouchers identified in window {window}: {len(outcome.synthetic_ids)}")
assert outcome.rejected_ids == []  # an honest device's records all open
# Stored with the account's records, the reveal key keeps the account revealed after a restart.
restored = bm.Account.with_records(opener.params(), window, account.records())
for key in account.reveal_keys():
    restored.add_reveal_key(key)
assert restored.evaluate() == outcome
print(f"server: {len(account.reveal_keys())} reveal key stored with the account's records")

try:
    bm.Database.from_bytes(db_bytes[:-1], pinned_key)
except bm.BlindMatchError.BadInput as e:
    print(f"device: a truncated database is refused: {e.reason}")

# The device state refuses to go back: a clock set back by a window is refused.
try:
    maker.check_state(device_state, now - schedule.length_secs)
    raise AssertionError("an older window was accepted")
except bm.BlindMatchError.StaleWindow as e:
    print(f"device: window {e.window} refused, this device has already used window {e.newest_window}")

# A voucher made for another epoch is refused, naming both epochs.
epoch2 = bm.Database.from_bytes(server.build_database([hash_list], options.with_epoch(2)), pinned_key)
try:
    bm.Opener(server, epoch2).open_voucher(outbox[0], ACCOUNT)
    raise AssertionError("a voucher for epoch 1 opened under epoch 2")
except bm.BlindMatchError.WrongEpoch as e:
    print(f"server: voucher for epoch {e.voucher_epoch} refused by the epoch-{e.database_epoch} database")
