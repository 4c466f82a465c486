//! Known-answer tests from the RFCs: RFC 9380 expand_message_xmd(SHA-512) and the RFC 9497
//! ristretto255-SHA512 OPRF/VOPRF vectors, which pin hash-to-group down completely
//! (EvaluationElement = skS · blind · H(input)).

use blindmatch_core::hazmat::{expand_message_xmd_sha512, hash_to_ristretto};
use curve25519_dalek::Scalar;
use serde_json::Value;
use sha2::{Digest, Sha512};

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("test data present")).expect("json")
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn scalar(v: &Value) -> Scalar {
    let b: [u8; 32] = hx(v).try_into().expect("32 bytes");
    Option::from(Scalar::from_canonical_bytes(b)).expect("canonical scalar")
}

#[test]
fn rfc9380_expand_message_xmd_sha512() {
    let data = load("rfc9380_expand_message_xmd_sha512.json");
    let dst = data["DST"].as_str().unwrap().as_bytes();
    let tests = data["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 10);
    for t in tests {
        let msg = t["msg"].as_str().unwrap().as_bytes();
        let len = usize::from_str_radix(
            t["len_in_bytes"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap();
        let mut out = vec![0u8; len];
        expand_message_xmd_sha512(&[msg], dst, &mut out).unwrap();
        assert_eq!(
            hex::encode(&out),
            t["uniform_bytes"].as_str().unwrap(),
            "msg len {}",
            msg.len()
        );
        // Splitting the message into parts must not change the result.
        if msg.len() > 1 {
            let (a, b) = msg.split_at(msg.len() / 2);
            let mut out2 = vec![0u8; len];
            expand_message_xmd_sha512(&[a, b], dst, &mut out2).unwrap();
            assert_eq!(out, out2);
        }
    }
}

const OPRF_DST: &[u8] = b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512";
const VOPRF_DST: &[u8] = b"HashToGroup-OPRFV1-\x01-ristretto255-SHA512";

fn check_vector(v: &Value, sk: &Scalar, dst: &[u8]) {
    let input = hx(&v["Input"]);
    let blind = scalar(&v["Blind"]);
    let h = hash_to_ristretto(&[&input], dst).unwrap();
    assert_eq!(
        hex::encode((h * blind).compress().as_bytes()),
        v["BlindedElement"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode((h * blind * sk).compress().as_bytes()),
        v["EvaluationElement"].as_str().unwrap()
    );
    // Output = SHA-512(len ‖ input ‖ len ‖ skS·H(input) ‖ "Finalize").
    let unblinded = (h * sk).compress();
    let out = Sha512::new()
        .chain_update((input.len() as u16).to_be_bytes())
        .chain_update(&input)
        .chain_update(32u16.to_be_bytes())
        .chain_update(unblinded.as_bytes())
        .chain_update(b"Finalize")
        .finalize();
    assert_eq!(hex::encode(out), v["Output"].as_str().unwrap());
}

#[test]
fn rfc9497_ristretto255_sha512_oprf_vectors() {
    let data = load("rfc9497_ristretto255_sha512_oprf.json");
    let sk = scalar(&data["skSm"]);
    let vs = data["vectors"].as_array().unwrap();
    assert_eq!(vs.len(), 2);
    for v in vs {
        check_vector(v, &sk, OPRF_DST);
    }
}

#[test]
fn rfc9497_ristretto255_sha512_voprf_vectors() {
    let data = load("rfc9497_ristretto255_sha512_oprf.json");
    let vo = &data["voprf_vectors"];
    let sk = scalar(&vo["skSm"]);
    let pk = (curve25519_dalek::RistrettoPoint::mul_base(&sk)).compress();
    assert_eq!(hex::encode(pk.as_bytes()), vo["pkSm"].as_str().unwrap());
    for v in vo["vectors"].as_array().unwrap() {
        check_vector(v, &sk, VOPRF_DST);
    }
}

#[test]
fn a_different_dst_gives_a_different_point() {
    let a = hash_to_ristretto(&[b"x"], OPRF_DST).unwrap();
    let b = hash_to_ristretto(&[b"x"], VOPRF_DST).unwrap();
    assert_ne!(a, b);
}
