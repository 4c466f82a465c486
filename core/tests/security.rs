//! Limits stated in docs/SECURITY.md, shown by tests.

mod common;
use blindmatch_core::device::*;
use blindmatch_core::hazmat::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use common::*;

#[test]
fn a_server_can_encode_unlisted_hashes_but_not_for_one_device() {
    // The published database lists 0..100.
    let f = fixture(100, Params::new(3, 4, 0, 0).unwrap(), 1);
    let published_root = *f.db.root_hash();
    // The server secretly builds another database, same key and epoch, with one more hash.
    let target = sha(999_999);
    let mut hashes = f.listed.clone();
    hashes.push(target.clone());
    let opts = BuildOptions {
        params: Params::new(3, 4, 0, 0).unwrap(),
        epoch: 1,
        ..Default::default()
    };
    let bytes = DatabaseBuilder::build(
        &f.server,
        &[SourceList {
            name: "test".into(),
            hashes,
        }],
        &opts,
    )
    .unwrap();
    // Nothing in the table shows it (the limit): the signature verifies and the audit passes …
    let evil = Database::open(bytes.clone(), &f.public, None).unwrap();
    evil.verify().unwrap();
    assert_eq!(
        okvs_lookup(&evil, &target).unwrap(),
        f.server
            .blind(&hash_to_group(&target, DEFAULT_DST).unwrap())
    );
    // … but it has a different root hash, so a device that checks the published root refuses it.
    assert_ne!(evil.root_hash(), &published_root);
    assert_eq!(
        Database::open(bytes, &f.public, Some(&published_root)).unwrap_err(),
        Error::RootHashMismatch
    );
}

#[test]
fn the_device_does_the_same_work_for_listed_and_unlisted_items() {
    // Both paths produce a voucher of the same size and structure; only the server can tell.
    let f = fixture(50, Params::new(3, 4, 0, 0).unwrap(), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let listed = voucher_with_choice(
        &c,
        &f.listed[0],
        b"a",
        b"",
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap();
    let unlisted = voucher_with_choice(
        &c,
        &sha(777_777),
        b"a",
        b"",
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap();
    assert_eq!(listed.len(), unlisted.len());
    assert_eq!(listed[..VOUCHER_HEADER_LEN], unlisted[..VOUCHER_HEADER_LEN]);
}
