//! Secrets and tokens: how they are minted, how they are stored, how they are compared.
//! Every comparison of a secret, token or MAC goes through [`same`] (the model crate's, so
//! the openid codec uses the same one), in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
pub use userorder_model::secret::same;

/// Lowercase hex of `bytes` (one allocation: every token fetch mints one).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A secret is stored as its SHA-256, in hex.
/// HMAC-SHA256 of `payload` under the server's key, as hex: what signs the pages'
/// sessions and the order list's cursors.
pub fn mac(key: &[u8; 32], payload: &str) -> String {
    use hmac::digest::KeyInit;
    use hmac::{Hmac, Mac};
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(payload.as_bytes());
    hex(&mac.finalize().into_bytes())
}

pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// 40 random bytes in hex: opaque, URL-safe, 80 characters.
pub fn mint_token() -> String {
    let mut bytes = [0u8; 40];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// `n` characters of `alphabet`, at random (ids, nonces, keys the sandbox makes up).
pub fn random_of(alphabet: &[u8], n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

pub const DIGITS: &[u8] = b"0123456789";
pub const LOWER_HEX: &[u8] = b"0123456789abcdef";
pub const UPPER_HEX: &[u8] = b"0123456789ABCDEF";
pub const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
