//! Bearer tokens: how one is made and the only form in which it is kept. Random, shown
//! once, stored only as its SHA-256; the API checks callers against that hash and the
//! command line issues tokens offline with the same function.

use sha2::{Digest, Sha256};

/// Prefix of every token, so a leaked one is easy to recognise and grep for.
pub const TOKEN_PREFIX: &str = "kal_";
/// Random bytes per token: 256 bits, beyond guessing.
const TOKEN_RANDOM_BYTES: usize = 32;

/// A new random token and its SHA-256 (hex), the only form that is stored.
pub fn new_token() -> Result<(String, String), getrandom::Error> {
    let mut random = [0u8; TOKEN_RANDOM_BYTES];
    getrandom::fill(&mut random)?;
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(random));
    let hash = token_sha256(&token);
    Ok((token, hash))
}

/// The stored form of a token.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
