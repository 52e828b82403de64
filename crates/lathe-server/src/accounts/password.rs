//! Passwords: Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: the OWASP
//! baseline), stored as PHC strings (`$argon2id$v=19$m=…$salt$hash`) so that the parameters
//! travel with each hash and can be raised later without breaking old ones.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password accepted, characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The PHC string of a new hash of `password`.
pub fn hash(password: &str) -> Result<String, String> {
    // 16 bytes of salt from the system's random source (the length the PHC format advises).
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&b).map_err(|e| format!("cannot hash the password: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches a stored PHC string (a malformed one matches nothing).
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of nothing anyone knows, verified against when the name is unknown, so that a
/// wrong name takes as long as a wrong password (no telling which names exist by timing).
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("no user has this password").unwrap_or_default())
}
