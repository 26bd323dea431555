//! Checks on what the page hands us for links and URLs. Pure string logic,
//! tested on the host; URL parsing itself is the browser's (`URL`).

/// An e-mail address safe to put behind `mailto:`: one `@`, a dotted
/// domain, nothing that could smuggle headers (`?`, `&`) or markup.
pub fn is_valid_email(s: &str) -> bool {
    // Byte search + `get` (not `split_once`): no pattern searcher and no
    // char-boundary panic path in the wasm; `@` is ASCII, so both halves
    // are the same as with `split_once('@')`.
    let at = s.bytes().position(|b| b == b'@');
    let Some((local, domain)) = at.and_then(|at| Some((s.get(..at)?, s.get(at + 1..)?))) else {
        return false;
    };
    let ok_char = |c: char| {
        !c.is_whitespace()
            && !c.is_control()
            && !matches!(
                c,
                '<' | '>'
                    | '"'
                    | '\''
                    | '?'
                    | '&'
                    | '/'
                    | '\\'
                    | '@'
                    | ','
                    | ';'
                    | ':'
                    | '('
                    | ')'
                    | '['
                    | ']'
            )
    };
    s.len() <= 254
        && !local.is_empty()
        && domain.bytes().any(|b| b == b'.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && local.chars().all(ok_char)
        && domain.chars().all(ok_char)
}

/// The `tel:` href for a phone number written for humans
/// (`+39 02 1234-567`), or `None` if it is not one.
pub fn tel_href(s: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.');
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if s.is_empty() || s.len() > 40 || !s.chars().all(allowed) || digits < 3 {
        return None;
    }
    if s.chars().skip(1).any(|c| c == '+') {
        return None;
    }
    Some(format!(
        "tel:{}",
        s.chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect::<String>()
    ))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_email_addresses() {
        assert!(is_valid_email("support@example.com"));
        assert!(is_valid_email("first.last+chat@sub.example.co.uk"));
    }

    #[test]
    fn rejects_email_that_could_inject_headers_or_markup() {
        assert!(!is_valid_email("a@example.com?bcc=x@evil.com"));
        assert!(!is_valid_email("<b>@example.com"));
        assert!(!is_valid_email("no-at-sign"));
        assert!(!is_valid_email("a@localhost"));
        assert!(!is_valid_email("a b@example.com"));
        assert!(!is_valid_email("a@@example.com"));
    }

    #[test]
    fn phone_numbers_become_tel_links_without_spaces() {
        assert_eq!(
            tel_href("+39 02 1234-567").as_deref(),
            Some("tel:+39021234567")
        );
        assert_eq!(
            tel_href("(555) 010.0199").as_deref(),
            Some("tel:5550100199")
        );
    }

    #[test]
    fn rejects_what_is_not_a_phone_number() {
        assert_eq!(tel_href("call us"), None);
        assert_eq!(tel_href("javascript:alert(1)"), None);
        assert_eq!(tel_href("12"), None);
        assert_eq!(tel_href("1+2345"), None);
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
