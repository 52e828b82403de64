//! Random secrets (API tokens, session cookies) and how they are stored: only their SHA-256,
//! so that a copy of the database lets nobody in. They are 256 bits from the system's random
//! source, so a fast hash is enough; passwords, which people choose, get Argon2
//! ([`super::password`]).

use sha2::{Digest, Sha256};

/// A new secret: `prefix` and 64 hex digits (256 random bits).
pub fn new_secret(prefix: &str) -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("{prefix}{}", hex(&b)))
}

/// What the database keeps of a secret.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_differ_and_carry_256_bits() {
        let (a, b) = (new_secret("t_").unwrap(), new_secret("t_").unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 + 64);
    }
}
