//! A merchant's WeChat Pay v3 credentials (SPEC §11.2): the API keys its requests are
//! verified with, the APIv3 key, and the platform side userorder signs with — a WeChat Pay
//! public key, or self-signed platform certificates.

use axum::Json;
use axum::extract::{Path, State};
use userorder_model::pay_v3::{
    Apiv3In, Apiv3Out, GeneratedKey, MerchantKey, PlatformCertificateOut, PlatformPublicKey,
    RotateIn,
};
use userorder_store::{Apiv3Record, PlatformCertificate, PlatformKey};

use super::SandboxJson;
use crate::clock;
use crate::error::SandboxError;
use crate::pay_v3::keys;
use crate::secrets::{ALNUM, DIGITS, UPPER_HEX, random_of};
use crate::state::AppState;

fn bad(message: impl Into<String>) -> SandboxError {
    SandboxError::BadRequest(message.into())
}

/// RSA key generation takes a while: off the async workers.
async fn generate() -> Result<(String, String), SandboxError> {
    tokio::task::spawn_blocking(keys::generate)
        .await
        .map_err(|e| bad(format!("key generation failed: {e}")))?
        .map_err(|e| bad(e.to_string()))
}

/// A new platform certificate over a fresh key, effective now (real clock).
async fn new_certificate(mchid: &str) -> Result<PlatformCertificate, SandboxError> {
    let (private_key_pem, public_key_pem) = generate().await?;
    let now = clock::real_now();
    let (serial_no, pem) =
        keys::platform_certificate(&private_key_pem, mchid, now).map_err(|e| bad(e.to_string()))?;
    Ok(PlatformCertificate {
        serial_no,
        pem,
        private_key_pem,
        public_key_pem,
        effective_time: now,
        expire_time: now + 5 * 365 * 86_400,
    })
}

pub fn shown(mchid: &str, record: &Apiv3Record, generated: Option<GeneratedKey>) -> Apiv3Out {
    Apiv3Out {
        mchid: mchid.to_owned(),
        merchant_keys: record.merchant_keys.clone(),
        apiv3_key: record.apiv3_key.clone(),
        platform_mode: record.platform_mode.clone(),
        platform_public_key: PlatformPublicKey {
            id: record.platform.id.clone(),
            pem: record.platform.public_key_pem.clone(),
        },
        platform_certificates: record
            .certificates
            .iter()
            .map(|c| PlatformCertificateOut {
                serial_no: c.serial_no.clone(),
                pem: c.pem.clone(),
                public_key_pem: c.public_key_pem.clone(),
                effective_time: clock::rfc3339_china(c.effective_time),
                expire_time: clock::rfc3339_china(c.expire_time),
            })
            .collect(),
        refunds: record.refunds.clone(),
        sign_probe: record.sign_probe,
        generated,
    }
}

async fn known_merchant(state: &AppState, mchid: &str) -> Result<(), SandboxError> {
    if super::identities::first_unknown_merchant(state, &[mchid])
        .await?
        .is_none()
    {
        Ok(())
    } else {
        Err(SandboxError::NotFound(format!("no merchant {mchid}")))
    }
}

pub async fn get_apiv3(
    State(state): State<AppState>,
    Path(mchid): Path<String>,
) -> Result<Json<Apiv3Out>, SandboxError> {
    let record =
        state.store.apiv3(&mchid).await?.ok_or_else(|| {
            SandboxError::NotFound(format!("merchant {mchid} has no v3 credentials"))
        })?;
    Ok(Json(shown(&mchid, &record, None)))
}

/// Any subset of the settings; the first call also mints the APIv3 key (unless given) and
/// the platform's public key.
pub async fn put_apiv3(
    State(state): State<AppState>,
    Path(mchid): Path<String>,
    SandboxJson(raw): SandboxJson<Apiv3In>,
) -> Result<Json<Apiv3Out>, SandboxError> {
    known_merchant(&state, &mchid).await?;
    let now = clock::now(state.store.as_ref()).await?;
    let existing = state.store.apiv3(&mchid).await?;
    let (record, generated) = configured(&mchid, existing, raw, now).await?;
    if !state.store.put_apiv3(&mchid, &record, now).await? {
        return Err(SandboxError::NotFound(format!("no merchant {mchid}")));
    }
    Ok(Json(shown(&mchid, &record, generated)))
}

/// The credentials `raw` makes of `existing` (or, first, of fresh ones), every setting
/// checked before anything is stored; with the generated key's private half, if any.
pub async fn configured(
    mchid: &str,
    existing: Option<Apiv3Record>,
    raw: Apiv3In,
    now: i64,
) -> Result<(Apiv3Record, Option<GeneratedKey>), SandboxError> {
    let mut record = match existing {
        Some(record) => record,
        None => {
            let (private_key_pem, public_key_pem) = generate().await?;
            Apiv3Record {
                merchant_keys: Vec::new(),
                apiv3_key: random_of(ALNUM, 32),
                platform_mode: "public_key".into(),
                platform: PlatformKey {
                    id: format!("PUB_KEY_ID_01{mchid}{}", random_of(DIGITS, 20)),
                    private_key_pem,
                    public_key_pem,
                },
                certificates: Vec::new(),
                refunds: Default::default(),
                sign_probe: false,
            }
        }
    };
    refund_settings(&mut record, &raw)?;
    if let Some(probe) = raw.sign_probe {
        record.sign_probe = probe;
    }
    if let Some(list) = raw.merchant_keys {
        let mut registered = Vec::with_capacity(list.len());
        for (i, key) in list.into_iter().enumerate() {
            let (serial_no, public) = match (key.certificate_pem, key.public_key_pem) {
                (Some(certificate), _) => {
                    let (serial, public) = keys::certificate_key(&certificate)
                        .map_err(|e| bad(format!("merchant_keys[{i}].certificate_pem: {e}")))?;
                    // A serial given with a certificate must be the certificate's.
                    if let Some(given) = key.serial_no.filter(|s| !s.is_empty())
                        && !given.eq_ignore_ascii_case(&serial)
                    {
                        return Err(bad(format!(
                            "merchant_keys[{i}].serial_no {given} is not the certificate's ({serial})"
                        )));
                    }
                    (serial, public)
                }
                (None, Some(pem)) => {
                    let public = keys::public_key(&pem)
                        .map_err(|e| bad(format!("merchant_keys[{i}].public_key_pem: {e}")))?;
                    let serial_no = key.serial_no.filter(|s| !s.is_empty()).ok_or_else(|| {
                        bad(format!(
                            "merchant_keys[{i}].serial_no is required with a bare key"
                        ))
                    })?;
                    (serial_no, public)
                }
                (None, None) => {
                    return Err(bad(format!(
                        "merchant_keys[{i}] needs public_key_pem (with serial_no) or certificate_pem"
                    )));
                }
            };
            registered.push(MerchantKey {
                serial_no: serial_no.to_ascii_uppercase(),
                public_key_pem: keys::public_pem(&public).map_err(|e| bad(e.to_string()))?,
                created_at: now,
            });
        }
        record.merchant_keys = registered;
    }
    let mut generated = None;
    if raw.generate_merchant_key == Some(true) {
        let (private_key_pem, public_key_pem) = generate().await?;
        let serial_no = random_of(UPPER_HEX, 40);
        record.merchant_keys.push(MerchantKey {
            serial_no: serial_no.clone(),
            public_key_pem: public_key_pem.clone(),
            created_at: now,
        });
        generated = Some(GeneratedKey {
            serial_no,
            private_key_pem,
            public_key_pem,
        });
    }
    if let Some(key) = raw.apiv3_key {
        if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("apiv3_key must be 32 of [0-9A-Za-z]"));
        }
        record.apiv3_key = key;
    }
    if let Some(mode) = raw.platform_mode {
        match mode.as_str() {
            "public_key" => {}
            "certificate" if record.certificates.is_empty() => {
                record.certificates.push(new_certificate(mchid).await?);
            }
            "certificate" => {}
            other => {
                return Err(bad(format!(
                    "platform_mode is {other:?}; use public_key or certificate"
                )));
            }
        }
        record.platform_mode = mode;
    }
    Ok((record, generated))
}

/// A new platform certificate that signs from now (rotation); `expire_previous` drops the
/// older ones.
pub async fn post_platform_certificate(
    State(state): State<AppState>,
    Path(mchid): Path<String>,
    SandboxJson(raw): SandboxJson<RotateIn>,
) -> Result<Json<Apiv3Out>, SandboxError> {
    let now = clock::now(state.store.as_ref()).await?;
    let mut record =
        state.store.apiv3(&mchid).await?.ok_or_else(|| {
            SandboxError::NotFound(format!("merchant {mchid} has no v3 credentials"))
        })?;
    let certificate = new_certificate(&mchid).await?;
    if raw.expire_previous == Some(true) {
        record.certificates.clear();
    }
    record.certificates.insert(0, certificate);
    if !state.store.put_apiv3(&mchid, &record, now).await? {
        return Err(SandboxError::NotFound(format!("no merchant {mchid}")));
    }
    Ok(Json(shown(&mchid, &record, None)))
}

/// The refund settings of a PUT, each checked (SPEC §11.2).
fn refund_settings(record: &mut Apiv3Record, raw: &Apiv3In) -> Result<(), SandboxError> {
    let settings = &mut record.refunds;
    if let Some(delay) = raw.refund_delay_s {
        if delay < 0 {
            return Err(bad("refund_delay_s must be 0 or more"));
        }
        settings.refund_delay_s = delay;
    }
    if let Some(outcome) = &raw.refund_outcome {
        if !matches!(
            outcome.as_str(),
            "SUCCESS" | "ABNORMAL" | "CLOSED" | "MANUAL"
        ) {
            return Err(bad(format!(
                "refund_outcome is {outcome:?}; use SUCCESS, ABNORMAL, CLOSED or MANUAL"
            )));
        }
        settings.refund_outcome = outcome.clone();
    }
    if let Some(gap) = raw.refund_min_interval_s {
        if gap < 0 {
            return Err(bad("refund_min_interval_s must be 0 or more"));
        }
        settings.refund_min_interval_s = gap;
    }
    if let Some(url) = &raw.refund_notify_url {
        settings.refund_notify_url = match url.as_str() {
            "" => None,
            url if url.starts_with("http://") || url.starts_with("https://") => Some(url.into()),
            other => {
                return Err(bad(format!(
                    "refund_notify_url {other:?} is not an http(s) URL"
                )));
            }
        };
    }
    Ok(())
}
