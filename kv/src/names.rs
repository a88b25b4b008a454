//! Bucket and key names as the NATS clients accept them.

/// `^[a-zA-Z0-9_-]+$`.
pub fn valid_bucket(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `^[-/_=.a-zA-Z0-9]+$`, not starting or ending with `.`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'_' | b'=' | b'.'))
}

/// A key or a watch pattern: keys may hold `*` tokens and end in `>`.
pub fn valid_pattern(pattern: &str) -> bool {
    if pattern.is_empty() || pattern.starts_with('.') || pattern.ends_with('.') {
        return false;
    }
    let tokens: Vec<&str> = pattern.split('.').collect();
    tokens.iter().enumerate().all(|(i, t)| match *t {
        "*" => true,
        ">" => i == tokens.len() - 1,
        t => !t.is_empty() && valid_key(t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_the_clients_check_them() {
        assert!(valid_bucket("my-bucket_1"));
        assert!(!valid_bucket("my.bucket"));
        assert!(!valid_bucket(""));
        assert!(valid_key("a/b=c.d_e-f"));
        assert!(!valid_key(".a"));
        assert!(!valid_key("a."));
        assert!(!valid_key("a b"));
        assert!(!valid_key("a.*"));
        assert!(valid_pattern("a.*.c"));
        assert!(valid_pattern(">"));
        assert!(valid_pattern("a.>"));
        assert!(!valid_pattern("a.>.b"));
        assert!(!valid_pattern("a..b"));
    }
}
