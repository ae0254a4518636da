//! openids (SPEC §2.1): `o` + 27 base64url characters that encode (appid scope, user id)
//! reversibly under a server key, so decoding needs no database and the user id is never
//! in clear.
//!
//! Layout of the 20 decoded bytes: 8 bytes of the user id enciphered by a 4-round Feistel
//! network keyed per appid (a pseudo-random permutation: one user id, one openid per app),
//! then a 12-byte HMAC-SHA256 tag over the appid and those 8 bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::same;
use crate::validate::{OpenIdDecoder, Undecodable};

type HmacSha256 = Hmac<Sha256>;

const TAG_LEN: usize = 12;
const ROUNDS: u8 = 4;

/// Encodes and decodes openids under one 32-byte key, which the store keeps.
#[derive(Clone)]
pub struct OpenIdCodec {
    /// The 32-byte key zero-padded to SHA-256's 64-byte block, which is what HMAC does to
    /// a short key anyway; a full block lets `KeyInit::new` take it without a fallible path.
    key: [u8; 64],
}

impl OpenIdCodec {
    pub fn new(key: [u8; 32]) -> Self {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&key);
        Self { key: block }
    }

    pub fn encode(&self, appid: &str, user_id: u64) -> String {
        let cipher = self.permute(appid, user_id.to_be_bytes(), false);
        let mut raw = [0u8; 8 + TAG_LEN];
        raw[..8].copy_from_slice(&cipher);
        raw[8..].copy_from_slice(&self.tag(appid, &cipher));
        format!("o{}", URL_SAFE_NO_PAD.encode(raw))
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <HmacSha256 as KeyInit>::new(&self.key.into());
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    fn tag(&self, appid: &str, cipher: &[u8; 8]) -> [u8; TAG_LEN] {
        let full = self.mac(&[b"openid-tag", appid.as_bytes(), cipher]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// Feistel over two 32-bit halves; `inverse` runs the rounds backwards.
    fn permute(&self, appid: &str, block: [u8; 8], inverse: bool) -> [u8; 8] {
        let mut left = [block[0], block[1], block[2], block[3]];
        let mut right = [block[4], block[5], block[6], block[7]];
        let round_fn = |round: u8, half: &[u8; 4]| -> [u8; 4] {
            let out = self.mac(&[b"openid-round", appid.as_bytes(), &[round], half]);
            [out[0], out[1], out[2], out[3]]
        };
        if !inverse {
            for round in 0..ROUNDS {
                let f = round_fn(round, &right);
                let next = xor4(left, f);
                left = right;
                right = next;
            }
        } else {
            for round in (0..ROUNDS).rev() {
                let f = round_fn(round, &left);
                let prev = xor4(right, f);
                right = left;
                left = prev;
            }
        }
        [
            left[0], left[1], left[2], left[3], right[0], right[1], right[2], right[3],
        ]
    }
}

fn xor4(a: [u8; 4], b: [u8; 4]) -> [u8; 4] {
    [a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]]
}

impl OpenIdDecoder for OpenIdCodec {
    fn decode(&self, appid: &str, openid: &str) -> Result<u64, Undecodable> {
        let body = openid.strip_prefix('o').ok_or(Undecodable)?;
        if openid.len() != 28 {
            return Err(Undecodable);
        }
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| Undecodable)?;
        let (cipher, tag) = raw.split_at_checked(8).ok_or(Undecodable)?;
        let cipher: [u8; 8] = cipher.try_into().map_err(|_| Undecodable)?;
        if !same(&self.tag(appid, &cipher), tag) {
            return Err(Undecodable);
        }
        Ok(u64::from_be_bytes(self.permute(appid, cipher, true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "wx0123456789abcdef";

    #[test]
    fn openids_round_trip_and_are_28_chars() {
        let codec = OpenIdCodec::new([7; 32]);
        for user in [0u64, 1, 42, u64::MAX] {
            let openid = codec.encode(APP, user);
            assert_eq!(openid.len(), 28, "{openid}");
            assert!(
                openid[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
            assert_eq!(codec.decode(APP, &openid), Ok(user));
        }
    }

    #[test]
    fn another_app_or_key_or_a_changed_character_does_not_decode() {
        let codec = OpenIdCodec::new([7; 32]);
        let openid = codec.encode(APP, 42);
        assert_eq!(
            codec.decode("wxffffffffffffffff", &openid),
            Err(Undecodable)
        );
        assert_eq!(
            OpenIdCodec::new([8; 32]).decode(APP, &openid),
            Err(Undecodable)
        );
        let mut tampered = openid.into_bytes();
        tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert_eq!(codec.decode(APP, &tampered), Err(Undecodable));
        assert_eq!(
            codec.decode(APP, "oAbCdEfGhIjKlMnOpQrStUvWxYz_"),
            Err(Undecodable)
        );
    }

    #[test]
    fn the_user_id_is_not_in_clear() {
        let codec = OpenIdCodec::new([7; 32]);
        let a = codec.encode(APP, 1);
        let b = codec.encode(APP, 2);
        let shared = a.chars().zip(b.chars()).filter(|(x, y)| x == y).count();
        assert!(shared < 8, "{a} {b}");
    }
}
