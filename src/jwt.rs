//! Reading a JWT's payload (never verifying it: the widget's server does
//! that). The loader only wants `exp`, to refuse a token already past it.

use crate::prelude::*;

/// Decodes unpadded or padded base64url. `None` on any invalid byte.
/// Works on bytes (no `str` pattern searchers: they cost wasm bytes).
pub fn base64url_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut input = input;
    while let [rest @ .., b'='] = input {
        input = rest;
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover sextet cannot encode a byte.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

/// The JSON text of a compact JWT's payload, or `None` when the token is
/// not shaped like a JWT (opaque tokens are allowed; only `expiresAt` applies).
pub fn payload_json(token: &str) -> Option<String> {
    let mut parts = token.as_bytes().split(|&b| b == b'.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    String::from_utf8(base64url_decode(payload)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64url_without_padding() {
        assert_eq!(
            base64url_decode(b"eyJleHAiOjF9").as_deref(),
            Some(&b"{\"exp\":1}"[..])
        );
        assert_eq!(base64url_decode(b"Pz8_").as_deref(), Some(&b"???"[..]));
        assert_eq!(base64url_decode(b"YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64url_decode(b"YQ==").as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn rejects_invalid_base64url() {
        assert_eq!(base64url_decode(b"a b"), None);
        assert_eq!(base64url_decode(b"Y"), None);
    }

    #[test]
    fn extracts_the_payload_of_a_compact_jwt() {
        let t = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln";
        assert_eq!(payload_json(t).as_deref(), Some("{\"exp\":1700000000}"));
    }

    #[test]
    fn opaque_tokens_have_no_payload() {
        assert_eq!(payload_json("test-token-for-development"), None);
        assert_eq!(payload_json("a.b.c.d"), None);
    }
}
