//! Shared helpers for the integration tests.
#![allow(dead_code)]

use blindmatch_core::server::*;
use blindmatch_core::*;
use std::sync::Arc;

/// The account the tests' vouchers are made for and filed under.
pub const ACCOUNT: &[u8] = b"alice";
/// The window the tests use (the default schedule's first).
pub const WINDOW: u64 = 0;
/// A time in [`WINDOW`] of the default schedule.
pub const NOW: u64 = blindmatch_core::server::DEFAULT_SCHEDULE.0 + 3600;

pub fn sha(i: u64) -> MediaHash {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&i.to_le_bytes());
    b[8] = 0xAB;
    MediaHash::new(HashKind::Sha256, &b).unwrap()
}

pub struct Fixture {
    pub server: ServerSecretKey,
    pub public: ServerPublicKey,
    pub bytes: Vec<u8>,
    pub db: Arc<Database>,
    pub listed: Vec<MediaHash>,
}

/// A client key derived from a test seed (reproducible runs).
pub fn seeded_client_key(seed: u8) -> ClientKey {
    let mut b = b"BMCK\x01\x00".to_vec();
    b.extend_from_slice(&[seed; 32]);
    ClientKey::import(&b).unwrap()
}

/// A server key derived from a test seed: α = (seed ‖ 0…0 ‖ 1) is canonical and non-zero.
pub fn seeded_server_key(seed: u8) -> ServerSecretKey {
    let mut b = b"BMSK\x01\x00".to_vec();
    b.push(seed);
    b.extend_from_slice(&[0; 30]);
    b.push(1);
    b.extend_from_slice(&[seed ^ 0x5A; 32]);
    ServerSecretKey::from_bytes(&b).unwrap()
}

pub fn fixture(n: u64, params: Params, epoch: u64) -> Fixture {
    fixture_with_key(ServerSecretKey::generate(), n, params, epoch)
}

pub fn fixture_with_key(server: ServerSecretKey, n: u64, params: Params, epoch: u64) -> Fixture {
    let public = server.public();
    let listed: Vec<MediaHash> = (0..n).map(sha).collect();
    let opts = BuildOptions {
        params,
        epoch,
        ..Default::default()
    };
    let bytes = DatabaseBuilder::build(
        &server,
        &[SourceList {
            name: "test".into(),
            hashes: listed.clone(),
        }],
        &opts,
    )
    .unwrap();
    let db = Arc::new(Database::open(bytes.clone(), &public, None).unwrap());
    Fixture {
        server,
        public,
        bytes,
        db,
        listed,
    }
}

/// A device client for `key` on `db`, for [`ACCOUNT`], accepting any valid database.
pub fn client(db: &Arc<Database>, key: &ClientKey) -> blindmatch_core::device::Client {
    blindmatch_core::device::Client::new(
        db.clone(),
        key,
        ACCOUNT,
        &blindmatch_core::device::DevicePolicy::permissive_for_tests(),
    )
    .unwrap()
}

impl Fixture {
    pub fn opener(&self) -> Opener {
        Opener::new(&self.server, self.db.manifest()).unwrap()
    }
}
