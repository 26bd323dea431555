//! Building messages without `core::fmt`: every `format!` call site builds
//! an `Arguments` table and pulls in the formatter's padding and integer
//! code; joining string pieces is smaller in the wasm.

use crate::prelude::*;

/// The pieces, joined: `cat(&["a ", x, " b"])`.
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push_str(part);
    }
    out
}

/// `n` in decimal.
pub fn num(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().map(|&d| char::from(d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_counts() {
        assert_eq!(cat(&["a", "", "bc"]), "abc");
        assert_eq!(cat(&[]), "");
        for n in [0, 7, 10, 404, 3_600_000, u64::MAX] {
            assert_eq!(num(n), n.to_string());
        }
    }
}
