//! Shared helpers for the integration tests.
#![allow(dead_code)]

use blindmatch_core::server::*;
use blindmatch_core::*;
use std::sync::Arc;

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

pub fn fixture(n: u64, params: Params, epoch: u64) -> Fixture {
    let server = ServerSecretKey::generate();
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

impl Fixture {
    pub fn opener(&self) -> Opener {
        Opener::new(&self.server, self.db.manifest()).unwrap()
    }
}
