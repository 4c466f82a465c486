//! Every derivation label of the protocol, and the derivations both wings share.
//!
//! A label is a named constant here and nowhere else; `docs/PROTOCOL.md` lists the same
//! strings. The device wing derives its secrets from the labels in [`client`]; the server wing
//! recomputes only what the protocol makes public or what a reveal discloses.

use crate::primitives::dhf::Fp;
use curve25519_dalek::Scalar;
use hkdf::Hkdf;
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

/// Hash-to-group DST used in production (recorded in every database manifest).
pub(crate) const DEFAULT_DST: &[u8] = b"blindmatch-v2-HashToGroup-ristretto255-SHA512";

/// Salt of the key-committing AEAD's key derivation.
pub(crate) const AEAD: &[u8] = b"blindmatch-v2 aead";
/// Suffix of the AEAD's encryption-key info.
pub(crate) const AEAD_ENC: &[u8] = b" enc";
/// Suffix of the AEAD's commitment info.
pub(crate) const AEAD_COMMIT: &[u8] = b" commit";
/// AEAD label of a voucher's inner layer.
pub(crate) const RCT: &[u8] = b"blindmatch-v2 rct";
/// AEAD label of the associated-data ciphertext, and salt of its key.
pub(crate) const ADCT: &[u8] = b"blindmatch-v2 adct";
/// Salt of the outer layer's key wrap.
pub(crate) const OUTER: &[u8] = b"blindmatch-v2 outer";
/// Info of the outer layer's tag τ.
pub(crate) const OUTER_TAU: &[u8] = b"tau";
/// Info of the outer layer's pad.
pub(crate) const OUTER_PAD: &[u8] = b"pad";
/// Salt of adkey, derived from k0.
pub(crate) const ADKEY_SALT: &[u8] = b"blindmatch-v2 adkey";
/// Info of adkey.
pub(crate) const ADKEY_INFO: &[u8] = b"adkey";
/// Prefix of the share abscissa hash.
pub(crate) const SHARE_ABSCISSA: &[u8] = b"blindmatch-v2 share abscissa";
/// Prefix of the OKVS position hash.
pub(crate) const OKVS: &[u8] = b"blindmatch-v2 okvs";
/// Prefix of the table digest.
pub(crate) const TABLE: &[u8] = b"blindmatch-v2 table";
/// Prefix of the root hash.
pub(crate) const ROOT: &[u8] = b"blindmatch-v2 root";
/// Prefix of the message the manifest signature covers.
pub(crate) const MANIFEST: &[u8] = b"blindmatch-v2 manifest";

/// AEAD label of a bundle's inner layer (`docs/PROTOCOL.md` §13.3).
pub(crate) const BUNDLE_RCT: &[u8] = b"blindmatch-v2 bundle rct";
/// Prefix of a bundle's id.
pub(crate) const BUNDLE_ID: &[u8] = b"blindmatch-v2 bundle id";

/// Prefix of the client context hash (`docs/PROTOCOL.md` §6.1).
pub(crate) const CONTEXT: &[u8] = b"blindmatch-v2 context";

/// Labels of the client key schedule (device wing only).
pub(crate) mod client {
    /// Salt of the client key's HKDF.
    pub(crate) const SALT: &[u8] = b"blindmatch-v2 client key";
    /// Info prefix of k0 = a_0.
    pub(crate) const K0: &[u8] = b"k0";
    /// Info prefix of the Shamir coefficients a_1..a_{T-1}.
    pub(crate) const SHAMIR: &[u8] = b"shamir";
    /// Info prefix of the PRF key.
    pub(crate) const PRF_KEY: &[u8] = b"prf";
    /// Info prefix of the DHF polynomials.
    pub(crate) const DHF: &[u8] = b"dhf";
    /// Prefix of the PRF input that gives x0.
    pub(crate) const PRF_INPUT: &[u8] = b"blindmatch-v2 prf";
    /// Info prefix of the synthetic-item key (never derived from k0, f, the DHF or adkey).
    pub(crate) const SYNTHETIC: &[u8] = b"synthetic";
    /// Info prefix of the per-(account, window) secret rate.
    pub(crate) const RATE: &[u8] = b"rate";
    /// Prefix of the HMAC input that keys an item's stream (coin and synthetic values).
    pub(crate) const ITEM: &[u8] = b"blindmatch-v2 item";
    /// Prefix of the MinHash of a bundle's probe keys (the item's identity, §13.4).
    pub(crate) const MINHASH: &[u8] = b"blindmatch-v2 minhash";
    /// Prefix of a synthetic bundle's open-count draw (§13.5).
    pub(crate) const OPEN_COUNT: &[u8] = b"blindmatch-v2 open count";
    /// Info of the device's hedge key for per-send randomness (informative: not on the wire).
    pub(crate) const HEDGE: &[u8] = b"blindmatch-v2 hedge";
}

/// HKDF-SHA256 to 32 bytes.
pub(crate) fn hkdf32(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand_multi_info(info, out.as_mut())
        .expect("32 bytes is within HKDF-SHA256's output limit");
    out
}

/// The outer layer's (τ, pad) = HKDF(salt = OUTER, ikm = Q ‖ S), info "tau" ‖ header ‖
/// u8(len(account)) ‖ account / "pad" ‖ …: bound to the voucher's epoch, window and id and to
/// the account it is filed under, so a voucher replayed into another account stays closed
/// (`NoMatch`), like any non-matching voucher. `account` is at most 255 bytes.
pub(crate) fn outer_keys(
    header: &[u8],
    account: &[u8],
    q: &[u8; 32],
    s: &[u8; 32],
) -> ([u8; 32], Zeroizing<[u8; 32]>) {
    let k = Outer::extract(q, s);
    (k.tau(header, account), k.pad(header, account))
}

/// The outer layer's HKDF after its one extract, so τ and pad share it — and an opener that
/// finds τ wrong never expands the pad.
pub(crate) struct Outer(Hkdf<Sha256>);

impl Outer {
    /// `HKDF-Extract(salt = OUTER, ikm = Q ‖ S)`.
    pub(crate) fn extract(q: &[u8; 32], s: &[u8; 32]) -> Outer {
        let ikm = Zeroizing::new([q.as_slice(), s.as_slice()].concat());
        Outer(Hkdf::<Sha256>::new(Some(OUTER), &ikm))
    }

    fn expand(&self, label: &[u8], header: &[u8], account: &[u8]) -> Zeroizing<[u8; 32]> {
        let len = [u8::try_from(account.len()).expect("account ids are checked to be ≤ 255 bytes")];
        let mut out = Zeroizing::new([0u8; 32]);
        self.0
            .expand_multi_info(&[label, header, &len, account], out.as_mut())
            .expect("32 bytes is within HKDF-SHA256's output limit");
        out
    }

    /// τ: info `"tau" ‖ header ‖ u8(len(account)) ‖ account`.
    pub(crate) fn tau(&self, header: &[u8], account: &[u8]) -> [u8; 32] {
        *self.expand(OUTER_TAU, header, account)
    }

    /// pad: info `"pad" ‖ header ‖ u8(len(account)) ‖ account`.
    pub(crate) fn pad(&self, header: &[u8], account: &[u8]) -> Zeroizing<[u8; 32]> {
        self.expand(OUTER_PAD, header, account)
    }
}

/// k_ad of one voucher = HKDF(salt = ADCT, ikm = adkey, info = Q).
pub(crate) fn adct_key(adkey: &[u8; 32], q: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    hkdf32(ADCT, adkey, &[q])
}

/// The associated data the adct is bound to: `id_len u8 ‖ id` (the unpadded id).
pub(crate) fn adct_aad(id: &[u8]) -> Vec<u8> {
    let len = u8::try_from(id.len()).expect("ids are checked to be at most 64 bytes");
    [&[len][..], id].concat()
}

/// adkey = HKDF(salt = ADKEY_SALT, ikm = k0, info = "adkey").
pub(crate) fn adkey(k0: &Scalar) -> Zeroizing<[u8; 32]> {
    hkdf32(ADKEY_SALT, k0.as_bytes(), &[ADKEY_INFO])
}

/// x_s = wide(SHA-512(SHARE_ABSCISSA ‖ LE64(x0))), 1 if that is zero. Public: the server
/// recomputes it from x0.
pub(crate) fn share_abscissa(x0: Fp) -> Scalar {
    let wide: [u8; 64] = Sha512::new()
        .chain_update(SHARE_ABSCISSA)
        .chain_update(x0.value().to_le_bytes())
        .finalize()
        .into();
    let s = Scalar::from_bytes_mod_order_wide(&wide);
    if s == Scalar::ZERO { Scalar::ONE } else { s }
}
