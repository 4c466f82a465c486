//! Private primitives: the key-committing AEAD, F_p and the detectable hash function, Shamir
//! sharing over the scalar field, and the garbled-cuckoo OKVS. Nothing here knows the
//! protocol's roles.

pub(crate) mod aead;
pub(crate) mod decode;
pub(crate) mod dhf;
pub(crate) mod eliminate;
pub(crate) mod okvs;
pub(crate) mod shamir;
