//! Wire formats both wings read or write. Each type has one `encode` and one `read` on the
//! shared [`crate::encoding::Reader`]; byte offsets are known here and nowhere else.

pub(crate) mod bundle;
pub(crate) mod voucher;
