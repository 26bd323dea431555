//! Checks on what the page hands us for URLs and org ids. Pure string
//! logic, tested on the host; URL parsing itself is the browser's (`URL`).
//! The spellings a URL option must not have and the contact box's e-mail,
//! phone and link rules are `js/dom.js`'s (one definition for the
//! loader and the no-WebAssembly box; tests/pkg/options.test.mjs).

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
