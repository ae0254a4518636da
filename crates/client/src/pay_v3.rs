//! A WeChat Pay API v3 client (SPEC §11), for WeChat itself or userorder: it signs every
//! request with the merchant's API key (WECHATPAY2-SHA256-RSA2048), verifies every 2xx
//! answer's `Wechatpay-*` signature under the platform's key, and decrypts what the platform
//! encrypts with the APIv3 key (AEAD_AES_256_GCM).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use sha2::Sha256;
use userorder_model::pay_v3::{V3ErrorOut, answer_message, request_message};

use crate::Error;

/// A merchant's v3 client.
#[derive(Clone)]
pub struct PayClient {
    http: reqwest::Client,
    base: String,
    mchid: String,
    serial_no: String,
    key: SigningKey<Sha256>,
    /// Keys that verify answers, by the `Wechatpay-Serial` they sign under.
    platform: Vec<(String, RsaPublicKey)>,
}

/// A verified 2xx answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `Wechatpay-Serial`: the platform key that signed it.
    pub serial: String,
    pub body: String,
}

/// A notification, verified and decrypted.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: String,
    pub create_time: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, …
    pub event_type: String,
    pub summary: String,
    /// The Transaction, Combined or refund the notification carries.
    pub resource: serde_json::Value,
}

/// A platform certificate as `GET /v3/certificates` lists it, decrypted.
#[derive(Debug, Clone)]
pub struct PlatformCertificate {
    pub serial_no: String,
    pub effective_time: String,
    pub expire_time: String,
    pub pem: String,
}

/// Unix seconds now, and 32 random upper-case hex characters: what each signature is
/// stamped with.
fn now_and_nonce() -> (String, String) {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let mut rng = rand::thread_rng();
    let nonce = (0..32)
        .map(|_| char::from(b"0123456789ABCDEF"[rng.gen_range(0..16)]))
        .collect();
    (timestamp, nonce)
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Decode(what.to_string())
}

impl PayClient {
    /// `private_key_pem`: the merchant API key (PKCS#8), `serial_no` its certificate's (or
    /// registered key's) serial.
    pub fn new(
        base_url: impl Into<String>,
        mchid: impl Into<String>,
        serial_no: impl Into<String>,
        private_key_pem: &str,
    ) -> Result<Self, Error> {
        let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
            .map_err(|e| bad(format!("merchant private key: {e}")))?;
        Ok(Self {
            http: reqwest::Client::new(),
            base: base_url.into().trim_end_matches('/').to_owned(),
            mchid: mchid.into(),
            serial_no: serial_no.into(),
            key: SigningKey::new(key),
            platform: Vec::new(),
        })
    }

    /// Trusts a platform key for answers signed under `serial` (a `PUB_KEY_ID_…` or a
    /// certificate's serial).
    pub fn trust(mut self, serial: impl Into<String>, public_key_pem: &str) -> Result<Self, Error> {
        let key = RsaPublicKey::from_public_key_pem(public_key_pem)
            .map_err(|e| bad(format!("platform public key: {e}")))?;
        self.platform.push((serial.into(), key));
        Ok(self)
    }

    /// The `Authorization` header of a request, as WeChat Pay specifies it.
    pub fn authorization(&self, method: &str, target: &str, body: &str) -> String {
        let (timestamp, nonce) = now_and_nonce();
        let message = request_message(method, target, &timestamp, &nonce, body.as_bytes());
        let signature = STANDARD.encode(self.key.sign(&message).to_bytes());
        format!(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="{}",nonce_str="{nonce}",signature="{signature}",timestamp="{timestamp}",serial_no="{}""#,
            self.mchid, self.serial_no
        )
    }

    /// What the mini program passes to `wx.requestPayment` for a prepay (SPEC §11.8):
    /// `{appId, timeStamp, nonceStr, package, signType, paySign}`, paySign signed with the
    /// merchant key over `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub fn payment_params(&self, app_id: &str, prepay_id: &str) -> serde_json::Value {
        let (time_stamp, nonce) = now_and_nonce();
        let package = format!("prepay_id={prepay_id}");
        let message =
            userorder_model::pay_v3::pay_sign_message(app_id, &time_stamp, &nonce, &package);
        let pay_sign = STANDARD.encode(self.key.sign(&message).to_bytes());
        serde_json::json!({
            "appId": app_id, "timeStamp": time_stamp, "nonceStr": nonce,
            "package": package, "signType": "RSA", "paySign": pay_sign,
        })
    }

    /// Sends a signed request; a 2xx answer must verify under a trusted platform key, any
    /// other status is [`Error::PayV3`].
    pub async fn call(
        &self,
        method: reqwest::Method,
        target: &str,
        body: Option<&str>,
    ) -> Result<Answer, Error> {
        let authorization = self.authorization(method.as_str(), target, body.unwrap_or(""));
        let mut request = self
            .http
            .request(method, format!("{}{target}", self.base))
            .header("authorization", authorization)
            .header("accept", "application/json")
            .header("user-agent", "userorder-client");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (serial, timestamp, nonce, signature) = (
            header("wechatpay-serial"),
            header("wechatpay-timestamp"),
            header("wechatpay-nonce"),
            header("wechatpay-signature"),
        );
        let body = response.text().await?;
        if !(200..300).contains(&status) {
            let refusal: V3ErrorOut = serde_json::from_str(&body).map_err(|_| Error::PayV3 {
                status,
                code: String::new(),
                message: body.clone(),
            })?;
            return Err(Error::PayV3 {
                status,
                code: refusal.code,
                message: refusal.message,
            });
        }
        self.verify(&serial, &timestamp, &nonce, &signature, &body)?;
        Ok(Answer {
            status,
            serial,
            body,
        })
    }

    /// Checks a platform signature (an answer's or a notification's `Wechatpay-*` headers)
    /// over `timestamp\nnonce\nbody\n` under the trusted key `serial` names.
    pub fn verify(
        &self,
        serial: &str,
        timestamp: &str,
        nonce: &str,
        signature: &str,
        body: &str,
    ) -> Result<(), Error> {
        let key = self
            .platform
            .iter()
            .find(|(s, _)| s == serial)
            .map(|(_, key)| key)
            .ok_or_else(|| bad(format!("signed under {serial:?}, a key not trusted")))?;
        if signature.starts_with(userorder_model::pay_v3::SIGN_PROBE) {
            return Err(bad(
                "WeChat Pay's probe signature (WECHATPAY/SIGNTEST/): it verifies under no \
                 key, so the message is refused",
            ));
        }
        let signature = STANDARD
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| bad("the Wechatpay-Signature is not base64 RSA"))?;
        VerifyingKey::<Sha256>::new(key.clone())
            .verify(
                &answer_message(timestamp, nonce, body.as_bytes()),
                &signature,
            )
            .map_err(|_| bad("the signature does not verify"))
    }

    /// A notification as a merchant's notify_url receives it (SPEC §11.12): its
    /// `Wechatpay-*` headers verified under a trusted platform key, then its resource
    /// decrypted with the APIv3 key. `header` reads a request header by (lower-case) name.
    pub fn open_notification<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &str,
        apiv3_key: &str,
    ) -> Result<Notification, Error> {
        let get = |name: &str| header(name).unwrap_or_default();
        self.verify(
            get("wechatpay-serial"),
            get("wechatpay-timestamp"),
            get("wechatpay-nonce"),
            get("wechatpay-signature"),
            body,
        )?;
        #[derive(Deserialize)]
        struct Sent {
            id: String,
            create_time: String,
            event_type: String,
            summary: String,
            resource: Encrypted,
        }
        let sent: Sent = serde_json::from_str(body).map_err(bad)?;
        let plaintext = decrypt(apiv3_key, &sent.resource)?;
        Ok(Notification {
            id: sent.id,
            create_time: sent.create_time,
            event_type: sent.event_type,
            summary: sent.summary,
            resource: serde_json::from_slice(&plaintext).map_err(bad)?,
        })
    }

    /// `GET /v3/certificates`, each certificate decrypted with the APIv3 key.
    pub async fn certificates(&self, apiv3_key: &str) -> Result<Vec<PlatformCertificate>, Error> {
        #[derive(Deserialize)]
        struct Listed {
            data: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            serial_no: String,
            effective_time: String,
            expire_time: String,
            encrypt_certificate: Encrypted,
        }
        let answer = self
            .call(reqwest::Method::GET, "/v3/certificates", None)
            .await?;
        let listed: Listed = serde_json::from_str(&answer.body).map_err(bad)?;
        listed
            .data
            .into_iter()
            .map(|item| {
                let pem = decrypt(apiv3_key, &item.encrypt_certificate)?;
                Ok(PlatformCertificate {
                    serial_no: item.serial_no,
                    effective_time: item.effective_time,
                    expire_time: item.expire_time,
                    pem: String::from_utf8(pem).map_err(bad)?,
                })
            })
            .collect()
    }
}

/// An encrypted resource (`encrypt_certificate`, a notification's `resource`).
#[derive(Debug, Clone, Deserialize)]
pub struct Encrypted {
    pub algorithm: String,
    pub nonce: String,
    pub associated_data: String,
    pub ciphertext: String,
}

/// AEAD_AES_256_GCM under the APIv3 key.
pub fn decrypt(apiv3_key: &str, encrypted: &Encrypted) -> Result<Vec<u8>, Error> {
    if encrypted.algorithm != "AEAD_AES_256_GCM" {
        return Err(bad(format!("algorithm {}", encrypted.algorithm)));
    }
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(apiv3_key.as_bytes())
        .map_err(|_| bad("the APIv3 key is not 32 bytes"))?;
    let ciphertext = STANDARD.decode(&encrypted.ciphertext).map_err(bad)?;
    if encrypted.nonce.len() != 12 {
        return Err(bad("the nonce is not 12 bytes"));
    }
    cipher
        .decrypt(
            aes_gcm::Nonce::from_slice(encrypted.nonce.as_bytes()),
            Payload {
                msg: &ciphertext,
                aad: encrypted.associated_data.as_bytes(),
            },
        )
        .map_err(|_| bad("does not decrypt with the APIv3 key"))
}
