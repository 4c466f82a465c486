//! Hash-list parsing: one hex hash per line (the kind given by the caller), or CSV with a kind
//! column (`kind,hash[,…]`, optional header). `#` starts a comment; blank lines are skipped.
//! A bad line is an error naming its line number, never its content.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, HashProblem, Result};
use crate::hash::{HashKind, MediaHash};

/// Largest hash-list line accepted (guards against a binary file passed by mistake).
pub const MAX_LINE: usize = 4096;

/// Parse a hash list. `default_kind` is used for lines that carry only a hash; CSV lines
/// (`kind,hash`) carry their own kind. Duplicates are kept (the builder deduplicates).
pub fn parse(text: &str, default_kind: Option<HashKind>) -> Result<Vec<MediaHash>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let err = |problem: HashProblem| Error::HashList {
            line: line_no,
            problem,
        };
        if raw.len() > MAX_LINE {
            return Err(err(HashProblem::LineTooLong));
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let (kind, hex_text) = match fields.as_slice() {
            [single] => match default_kind {
                Some(k) => (k, *single),
                None => {
                    return Err(err(HashProblem::NoKind));
                }
            },
            [k, h, ..] => {
                if line_no_is_header(k, h) {
                    continue;
                }
                let kind = HashKind::from_name(k).map_err(|_| err(HashProblem::UnknownKind))?;
                (kind, *h)
            }
            [] => continue,
        };
        let hash = MediaHash::from_hex(kind, hex_text).map_err(|e| match e {
            Error::InvalidHash { problem } => err(problem),
            _ => err(HashProblem::NotHex),
        })?;
        out.push(hash);
    }
    Ok(out)
}

fn line_no_is_header(k: &str, h: &str) -> bool {
    k.eq_ignore_ascii_case("kind")
        && (h.eq_ignore_ascii_case("hash") || h.eq_ignore_ascii_case("hex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_csv() {
        let text = "# list\n\nd41d8cd98f00b204e9800998ecf8427e\n";
        let v = parse(text, Some(HashKind::Md5)).unwrap();
        assert_eq!(v.len(), 1);
        let csv = "kind,hash\nmd5,d41d8cd98f00b204e9800998ecf8427e # comment\nsha1,da39a3ee5e6b4b0d3255bfef95601890afd80709\n";
        let v = parse(csv, None).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].kind(), HashKind::Sha1);
    }

    #[test]
    fn errors_name_the_line_not_the_content() {
        let text = "d41d8cd98f00b204e9800998ecf8427e\nzzzz-secret-zzzz\n";
        match parse(text, Some(HashKind::Md5)) {
            Err(e @ Error::HashList { line, .. }) => {
                assert_eq!(line, 2);
                assert!(!e.to_string().contains("secret"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse("abcd\n", None),
            Err(Error::HashList { line: 1, .. })
        ));
        assert!(matches!(
            parse("md5,d41d8cd98f00b204e9800998ecf8427e\nsha256,00\n", None),
            Err(Error::HashList { line: 2, .. })
        ));
        assert!(matches!(
            parse("whirlpool,00\n", None),
            Err(Error::HashList { line: 1, .. })
        ));
    }
}
