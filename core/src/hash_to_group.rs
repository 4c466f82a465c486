//! RFC 9380 hashing to ristretto255: `expand_message_xmd` with SHA-512 to 64 bytes, then
//! `RistrettoPoint::from_uniform_bytes` (the `hash_to_ristretto255` of RFC 9380 §6.8.3 and
//! RFC 9496 §4.3.4). The domain-separation tag is a parameter; the known-answer tests pin the
//! construction with the RFC 9380 and RFC 9497 vectors.

#![cfg_attr(not(feature = "hazmat"), allow(unreachable_pub))]

use crate::error::{Error, Param, Result};
use crate::hash::MediaHash;
use curve25519_dalek::RistrettoPoint;
use sha2::{Digest, Sha512};

/// The longest DST a manifest may carry.
pub(crate) const MAX_DST_LEN: usize = 255;

/// RFC 9380 §5.3.1 `expand_message_xmd` with SHA-512. `msg` is given in parts that are
/// concatenated. Fails if `out.len()` > 255·64 or > 65535, or the DST is empty.
pub fn expand_message_xmd_sha512(msg: &[&[u8]], dst: &[u8], out: &mut [u8]) -> Result<()> {
    const B: usize = 64; // b_in_bytes
    const R: usize = 128; // s_in_bytes (block size)
    let len = out.len();
    let ell = len.div_ceil(B);
    if ell > 255 || len > 65535 || dst.is_empty() {
        return Err(Error::InvalidParameter {
            param: Param::ExpandMessage,
        });
    }
    // Oversized DSTs are hashed per RFC 9380 §5.3.3.
    let long_dst;
    let dst: &[u8] = if dst.len() > 255 {
        long_dst = Sha512::new()
            .chain_update(b"H2C-OVERSIZE-DST-")
            .chain_update(dst)
            .finalize();
        &long_dst
    } else {
        dst
    };
    let dst_len = [dst.len() as u8];
    let mut h = Sha512::new();
    h.update([0u8; R]);
    for part in msg {
        h.update(part);
    }
    h.update((len as u16).to_be_bytes());
    h.update([0u8]);
    h.update(dst);
    h.update(dst_len);
    let b0 = h.finalize();
    let mut prev = Sha512::new()
        .chain_update(b0)
        .chain_update([1u8])
        .chain_update(dst)
        .chain_update(dst_len)
        .finalize();
    for (i, chunk) in out.chunks_mut(B).enumerate() {
        if i > 0 {
            let mut x = [0u8; B];
            for (xi, (a, b)) in x.iter_mut().zip(b0.iter().zip(prev.iter())) {
                *xi = a ^ b;
            }
            prev = Sha512::new()
                .chain_update(x)
                .chain_update([(i + 1) as u8])
                .chain_update(dst)
                .chain_update(dst_len)
                .finalize();
        }
        chunk.copy_from_slice(&prev[..chunk.len()]);
    }
    Ok(())
}

/// Hash arbitrary bytes to ristretto255 under `dst`.
pub fn hash_to_ristretto(msg: &[&[u8]], dst: &[u8]) -> Result<RistrettoPoint> {
    let mut uniform = [0u8; 64];
    expand_message_xmd_sha512(msg, dst, &mut uniform)?;
    Ok(RistrettoPoint::from_uniform_bytes(&uniform))
}

/// H(x) for a typed media hash: the hash kind is part of the input, so kinds never collide.
pub(crate) fn hash_media(x: &MediaHash, dst: &[u8]) -> Result<RistrettoPoint> {
    hash_item(&x.encode(), dst)
}

/// H of an encoded item (`encode(x)`, or a band key).
pub(crate) fn hash_item(item: &[u8], dst: &[u8]) -> Result<RistrettoPoint> {
    hash_to_ristretto(&[item], dst)
}
