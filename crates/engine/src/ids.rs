//! Object uids and secrets from the operating system's random source: the apiserver's
//! `uuid.NewUUID()` for `metadata.uid` and a bearer token for `podvisor serve`.

use rand::TryRngCore;

/// A new random (version 4) uid, as the apiserver assigns on create.
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A bearer token: 32 bytes from the OS random source, hex-encoded. Fails only when the
/// kernel cannot supply randomness.
pub fn random_token() -> Result<String, rand::rand_core::OsError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_version_4_and_distinct() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
    }

    #[test]
    fn tokens_are_64_hex_digits_and_distinct() {
        let a = random_token().expect("os random");
        let b = random_token().expect("os random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
