//! Identifiers chosen by callers (DESIGN §5: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`).

/// Longest caller-chosen id; long enough for ERP invoice numbers, short enough for keys.
pub const ID_LENGTH_MAX: usize = 64;

/// True when `id` is a valid caller-chosen identifier.
pub fn is_valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    if bytes.is_empty() || bytes.len() > ID_LENGTH_MAX || !bytes[0].is_ascii_alphanumeric() {
        return false;
    }
    bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_pattern() {
        // Proves the id rule accepts the documented alphabet and refuses everything else.
        assert!(is_valid_id("KA-1"));
        assert!(is_valid_id("a"));
        assert!(is_valid_id(&"x".repeat(64)));
        assert!(!is_valid_id(&"x".repeat(65)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("-KA"));
        assert!(!is_valid_id("KA 1"));
        assert!(!is_valid_id("KA/1"));
        assert!(!is_valid_id("账户"));
    }
}
