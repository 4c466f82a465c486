//! A key-committing AEAD for single-use keys: ChaCha20-Poly1305 under a derived key, preceded
//! by a 32-byte commitment to the key.
//!
//! From the 32-byte key K: `PRK = HKDF-Extract(salt = "blindmatch-v2 aead", K)`,
//! `enc = HKDF-Expand(PRK, label ‖ " enc", 32)`, `commit = HKDF-Expand(PRK, label ‖ " commit", 32)`.
//! Sealed form: `commit ‖ ChaCha20-Poly1305(enc, nonce = 0^12, aad, plaintext) ‖ tag`.
//! Opening recomputes the commitment and compares it in constant time before decrypting, so a
//! ciphertext opens under at most one key even when crafted (random-key robustness against
//! adversarial ciphertexts). Every key used here is fresh per message, which is what makes
//! the all-zero nonce safe.

use crate::kdf;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes a sealed message adds to its plaintext: commitment (32) and Poly1305 tag (16).
pub(crate) const OVERHEAD: usize = 32 + 16;

struct Keys {
    enc: Zeroizing<[u8; 32]>,
    commit: [u8; 32],
}

fn derive(key: &[u8; 32], label: &[u8]) -> Keys {
    Keys {
        enc: kdf::hkdf32(kdf::AEAD, key, &[label, kdf::AEAD_ENC]),
        commit: *kdf::hkdf32(kdf::AEAD, key, &[label, kdf::AEAD_COMMIT]),
    }
}

/// Seal `plaintext` under a single-use `key`, appending to `out`.
pub(crate) fn seal_into(
    key: &[u8; 32],
    label: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    let k = derive(key, label);
    out.extend_from_slice(&k.commit);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let cipher = ChaCha20Poly1305::new(&Key::from(*k.enc));
    let nonce = Nonce::default();
    let buf = out
        .get_mut(start..)
        .expect("the plaintext was just appended at `start`");
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, buf.into())
        .expect("ChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
    out.extend_from_slice(&tag);
}

/// Seal into a fresh vector.
#[cfg(test)]
fn seal(key: &[u8; 32], label: &[u8], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(plaintext.len() + OVERHEAD);
    seal_into(key, label, aad, plaintext, &mut v);
    v
}

/// Open a sealed message; `None` if the key is wrong or anything was altered.
pub(crate) fn open(
    key: &[u8; 32],
    label: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < OVERHEAD {
        return None;
    }
    let (commit, rest) = sealed.split_at(32);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let k = derive(key, label);
    if !bool::from(k.commit.ct_eq(commit)) {
        return None;
    }
    let mut buf = Zeroizing::new(body.to_vec());
    let cipher = ChaCha20Poly1305::new(&Key::from(*k.enc));
    let tag = Tag::try_from(tag).ok()?;
    cipher
        .decrypt_inout_detached(&Nonce::default(), aad, buf.as_mut_slice().into(), &tag)
        .ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_robustness() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let c = seal(&k1, b"t", b"aad", b"hello");
        assert_eq!(c.len(), 5 + OVERHEAD);
        assert_eq!(open(&k1, b"t", b"aad", &c).unwrap().as_slice(), b"hello");
        assert!(open(&k2, b"t", b"aad", &c).is_none());
        assert!(open(&k1, b"u", b"aad", &c).is_none());
        assert!(open(&k1, b"t", b"aae", &c).is_none());
        for i in 0..c.len() {
            let mut d = c.clone();
            d[i] ^= 1;
            assert!(open(&k1, b"t", b"aad", &d).is_none(), "flip at {i}");
        }
        assert!(open(&k1, b"t", b"aad", &c[..40]).is_none());
    }
}
