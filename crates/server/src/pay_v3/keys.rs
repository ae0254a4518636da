//! RSA 2048 keys of WeChat Pay v3 (SPEC §11.2–§11.4): reading the PEM forms merchants
//! register, generating keys, and SHA256withRSA (RSASSA-PKCS1-v1_5) signatures — all by the
//! RustCrypto `rsa` crate; nothing hand-written.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// Why a PEM was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an RSA public key in PEM (PUBLIC KEY or RSA PUBLIC KEY)")]
    NotAPublicKey,
    #[error("the key is RSA {0}; WeChat Pay uses RSA 2048")]
    NotRsa2048(usize),
    #[error("the private key cannot be read: {0}")]
    PrivateKey(String),
    #[error("cannot generate a key: {0}")]
    Generate(String),
    #[error("not an X.509 certificate in PEM (CERTIFICATE): {0}")]
    NotACertificate(String),
}

/// An RSA public key from `-----BEGIN PUBLIC KEY-----` (SPKI) or `-----BEGIN RSA PUBLIC
/// KEY-----` (PKCS#1) PEM; it must be 2048 bits.
pub fn public_key(pem: &str) -> Result<RsaPublicKey, KeyError> {
    let key = RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .map_err(|_| KeyError::NotAPublicKey)?;
    match key.n().bits() {
        2048 => Ok(key),
        bits => Err(KeyError::NotRsa2048(bits)),
    }
}

/// A merchant's X.509 API certificate: its serial (upper-case hex, as WeChat Pay writes it)
/// and its RSA 2048 public key.
pub fn certificate_key(pem: &str) -> Result<(String, RsaPublicKey), KeyError> {
    use x509_cert::der::{DecodePem, Encode};
    let certificate = x509_cert::Certificate::from_pem(pem.trim())
        .map_err(|e| KeyError::NotACertificate(e.to_string()))?;
    let tbs = &certificate.tbs_certificate;
    let serial: String = tbs
        .serial_number
        .as_bytes()
        .iter()
        .skip_while(|b| **b == 0)
        .map(|b| format!("{b:02X}"))
        .collect();
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|e| KeyError::NotACertificate(e.to_string()))?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| KeyError::NotAPublicKey)?;
    match key.n().bits() {
        2048 => Ok((serial, key)),
        bits => Err(KeyError::NotRsa2048(bits)),
    }
}

/// The canonical (SPKI) PEM of a public key.
pub fn public_pem(key: &RsaPublicKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))
}

/// A fresh key pair: (PKCS#8 private PEM, SPKI public PEM).
pub fn generate() -> Result<(String, String), KeyError> {
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?
        .to_string();
    Ok((private_pem, public_pem(&RsaPublicKey::from(&private))?))
}

/// base64 SHA256withRSA of `message` under a PKCS#8 private key.
pub fn sign(private_key_pem: &str, message: &[u8]) -> Result<String, KeyError> {
    let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
        .map_err(|e| KeyError::PrivateKey(e.to_string()))?;
    let signature = SigningKey::<Sha256>::new(key).sign(message);
    Ok(STANDARD.encode(signature.to_bytes()))
}

/// Whether a base64 SHA256withRSA signature of `message` verifies under `key`.
pub fn verifies(key: &RsaPublicKey, message: &[u8], signature_b64: &str) -> bool {
    let Ok(bytes) = STANDARD.decode(signature_b64) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(message, &signature)
        .is_ok()
}

/// A platform certificate (SPEC §11.2): self-signed X.509 v3 over `private_key_pem`'s key,
/// SHA256withRSA, serial of 20 random bytes (top bit clear), `CN=userorder sandbox platform
/// <mchid>`, valid five years from `now` (real clock). Answers (serial as 40 upper-case hex,
/// PEM). Built by `rcgen` over `ring`.
pub fn platform_certificate(
    private_key_pem: &str,
    mchid: &str,
    now: i64,
) -> Result<(String, String), KeyError> {
    let key_pair =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(private_key_pem, &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| KeyError::PrivateKey(e.to_string()))?;
    let mut serial = [0u8; 20];
    rand::thread_rng().fill(&mut serial);
    serial[0] &= 0x7f;
    serial[0] |= 0x01 << 6; // a leading byte that is never zero keeps all 40 hex digits
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("userorder sandbox platform {mchid}"),
    );
    let start = time::OffsetDateTime::from_unix_timestamp(now)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    params.not_before = start;
    params.not_after = start + time::Duration::days(5 * 365);
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let serial_hex = serial.iter().map(|b| format!("{b:02X}")).collect();
    Ok((serial_hex, certificate.pem()))
}

/// AEAD_AES_256_GCM as WeChat Pay uses it (SPEC §11.11–§11.12): key = the APIv3 key's 32
/// ASCII bytes, a 12-character nonce, `associated_data`; base64(ciphertext ‖ tag).
pub fn encrypt(
    apiv3_key: &str,
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, KeyError> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(apiv3_key.as_bytes())
        .map_err(|_| KeyError::Generate("the APIv3 key is not 32 bytes".into()))?;
    let nonce = aes_gcm::Nonce::from_slice(nonce.as_bytes());
    let sealed = cipher
        .encrypt(
            nonce,
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok(STANDARD.encode(sealed))
}

/// The signature of an answer or notification: SHA256withRSA under the platform key, or in
/// `sign_probe` mode WeChat Pay's probe — `WECHATPAY/SIGNTEST/` + base64 of 256 random bytes.
pub fn platform_signature(
    credentials: &userorder_store::Apiv3Record,
    message: &[u8],
) -> Result<String, KeyError> {
    if credentials.sign_probe {
        let mut noise = [0u8; 256];
        rand::thread_rng().fill(&mut noise[..]);
        return Ok(format!(
            "{}{}",
            userorder_model::pay_v3::SIGN_PROBE,
            STANDARD.encode(noise)
        ));
    }
    sign(credentials.signer().1, message)
}
