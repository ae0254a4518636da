//! Secrets and tokens: how they are minted, how they are stored, how they are compared.
//! Every comparison of a secret, token or MAC goes through [`same`] (the model crate's, so
//! the openid codec uses the same one), in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
pub use userorder_model::secret::same;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A secret is stored as its SHA-256, in hex.
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// 40 random bytes in hex: opaque, URL-safe, 80 characters.
pub fn mint_token() -> String {
    let mut bytes = [0u8; 40];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}
