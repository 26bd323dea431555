//! Checks on what the page hands us for URLs and org ids. Pure string
//! logic, tested on the host; URL parsing itself is the browser's (`URL`).
//! The contact box's e-mail, phone and link rules are `js/options.js`'s
//! (one definition for the loader and the no-WebAssembly box).

use crate::prelude::*;

/// Whether a parsed URL's `protocol` (with its colon) is one we load or
/// link to. `javascript:`, `data:` and `blob:` never are.
pub fn is_web_protocol(protocol: &str) -> bool {
    matches!(protocol, "https:" | "http:")
}

/// An org id must name one tag and one query value: non-empty, short, and
/// free of control characters and whitespace.
pub fn is_valid_org(org: &str) -> bool {
    !org.is_empty() && org.len() <= 128 && !org.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Why `raw` (a URL option as the page wrote it) must be refused before it
/// is parsed, if it must: control characters or spaces (`java\tscript:`
/// parses as `javascript:`), backslashes (parsers read them as `/`), a
/// protocol-relative `//host` (its protocol is whatever the page has), a
/// scheme other than http(s), or `https:` without `//` (which resolves as
/// a path on the page's own host).
pub fn url_trick(raw: &str) -> Option<&'static str> {
    // Bytes only: `str` slicing and `char` tables would pull the panic
    // formatting machinery into the wasm.
    let b = raw.as_bytes();
    if b.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Some("must not contain spaces or control characters");
    }
    if b.contains(&b'\\') {
        return Some("must not contain a backslash");
    }
    if b.starts_with(b"//") {
        return Some("is protocol-relative (//host)");
    }
    let end = b
        .iter()
        .position(|c| matches!(c, b':' | b'/' | b'?' | b'#'));
    if let Some(colon) = end.filter(|&i| b[i] == b':') {
        let (scheme, rest) = b.split_at(colon);
        let is_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        if is_scheme {
            if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
                return Some("must be an http(s) URL");
            }
            if !rest[1..].starts_with(b"//") {
                return Some("has no // after its scheme");
            }
        }
    }
    None
}

/// `localhost`, `127.0.0.1` or `[::1]` (a URL's `hostname`).
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// A safe, unique suffix for an element id from an org id: ASCII letters,
/// digits and `-` stay; every other byte (including `_`, the escape) is
/// `_` and two hex digits, so two orgs never share an id and the id needs
/// no escaping in a CSS selector or an attribute.
pub fn id_suffix(org: &str) -> String {
    let mut out = String::with_capacity(org.len());
    for b in org.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push('_');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_tricks_are_refused_and_ordinary_urls_pass() {
        for ok in [
            "/api/chathub/token",
            "api/token?org=a:b",
            "https://widget.example.com/w.js",
            "HTTP://localhost:8080/w.js",
            "?org=x",
        ] {
            assert_eq!(url_trick(ok), None, "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:x",
            "data:text/javascript,alert(1)",
            "blob:https://example.com/x",
            "//evil.example/w.js",
            "\\\\evil.example/w.js",
            "/\\evil.example/w.js",
            "https:evil.example/w.js",
            "https:/evil.example/w.js",
        ] {
            assert!(url_trick(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn only_the_visitors_own_machine_is_loopback() {
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("[::1]"));
        assert!(!is_loopback_host("localhost.evil.example"));
        assert!(!is_loopback_host("10.0.0.1"));
    }

    #[test]
    fn org_ids_become_safe_and_distinct_id_suffixes() {
        assert_eq!(id_suffix("sales"), "sales");
        assert_eq!(id_suffix("org-42"), "org-42");
        assert_eq!(id_suffix("a/b"), "a_2fb");
        assert_eq!(id_suffix("a_2fb"), "a_5f2fb");
        assert_eq!(id_suffix("\"><script>"), "_22_3e_3cscript_3e");
        assert_eq!(id_suffix("é"), "_c3_a9");
    }

    #[test]
    fn only_web_protocols_pass() {
        assert!(is_web_protocol("https:"));
        assert!(is_web_protocol("http:"));
        assert!(!is_web_protocol("javascript:"));
        assert!(!is_web_protocol("data:"));
    }

    #[test]
    fn org_ids_must_be_usable_in_a_tag_id() {
        assert!(is_valid_org("sales"));
        assert!(is_valid_org("Org/42&x"));
        assert!(!is_valid_org(""));
        assert!(!is_valid_org("a b"));
        assert!(!is_valid_org(&"x".repeat(200)));
    }
}
