//! WeChat Pay API v3 (SPEC §11), the parts built so far: a merchant's credentials in the
//! sandbox (§11.2), request signatures checked in order (§11.3), answers signed (§11.4), the
//! transport rules (§11.1) and `/v3/certificates` in both platform modes (§11.11) — through
//! HTTP, signing as a merchant's SDK does.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::*;

/// A merchant's v3 signer, as SDKs sign (SPEC §11.3).
pub(crate) struct Merchant {
    pub(crate) mchid: String,
    pub(crate) serial_no: String,
    pub(crate) private_key_pem: String,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Merchant {
    pub(crate) fn authorization(
        &self,
        method: &str,
        target: &str,
        body: &str,
        timestamp: i64,
    ) -> String {
        let nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
        let message = format!("{method}\n{target}\n{timestamp}\n{nonce}\n{body}\n");
        let key = RsaPrivateKey::from_pkcs8_pem(&self.private_key_pem).expect("key");
        let signature = STANDARD.encode(
            SigningKey::<Sha256>::new(key)
                .sign(message.as_bytes())
                .to_bytes(),
        );
        format!(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="{}",nonce_str="{nonce}",signature="{signature}",timestamp="{timestamp}",serial_no="{}""#,
            self.mchid, self.serial_no
        )
    }
}

/// A merchant of the shop with generated v3 credentials.
pub(crate) async fn merchant(server: &TestServer) -> (Merchant, Value) {
    merchant_of(server, &server.shop().await).await
}

/// The shop's merchant with generated v3 credentials.
pub(crate) async fn merchant_of(server: &TestServer, shop: &Shop) -> (Merchant, Value) {
    let out: Value = server
        .sandbox
        .put(
            &format!("/merchants/{}/apiv3", shop.mchid),
            &json!({"generate_merchant_key": true}),
        )
        .await
        .expect("apiv3");
    let generated = &out["generated"];
    let merchant = Merchant {
        mchid: shop.mchid.clone(),
        serial_no: generated["serial_no"].as_str().expect("serial").to_owned(),
        private_key_pem: generated["private_key_pem"]
            .as_str()
            .expect("key")
            .to_owned(),
    };
    (merchant, out)
}

async fn get_certificates(
    server: &TestServer,
    authorization: Option<&str>,
    user_agent: bool,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("{}/v3/certificates", server.base))
        .header("accept", "application/json");
    if user_agent {
        request = request.header("user-agent", "userorder-tests");
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.expect("sent")
}

pub(crate) async fn refused(
    response: reqwest::Response,
    status: u16,
    code: &str,
    message: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(response.status().as_u16(), status);
    let headers = response.headers().clone();
    assert!(
        headers.get("request-id").is_some(),
        "every answer names its request"
    );
    assert!(
        !headers.keys().any(|k| k.as_str().starts_with("wechatpay-")),
        "refusals are not signed"
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8")
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["message"], message, "{body}");
    headers
}

async fn credentials_are_kept_and_checked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (merchant, out) = merchant(&server).await;
    assert_eq!(out["platform_mode"], "public_key");
    let key_id = out["platform_public_key"]["id"].as_str().expect("id");
    assert!(
        key_id.starts_with(&format!("PUB_KEY_ID_01{}", merchant.mchid)),
        "{key_id}"
    );
    assert_eq!(
        key_id.len(),
        "PUB_KEY_ID_01".len() + merchant.mchid.len() + 20
    );
    let apiv3_key = out["apiv3_key"].as_str().expect("apiv3 key");
    assert!(apiv3_key.len() == 32 && apiv3_key.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(merchant.serial_no.len(), 40);

    let path = format!("/merchants/{}/apiv3", merchant.mchid);
    let shown: Value = server.sandbox.get(&path).await.expect("get");
    assert!(
        shown.get("generated").is_none(),
        "the private key is shown once"
    );
    assert_eq!(
        shown["merchant_keys"][0]["serial_no"],
        json!(merchant.serial_no)
    );

    // A registered bare key replaces the list; its serial is kept upper-case.
    let own = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("key");
    let own_pem = RsaPublicKey::from(&own)
        .to_public_key_pem(LineEnding::LF)
        .expect("pem");
    let replaced: Value = server
        .sandbox
        .put(&path, &json!({"merchant_keys": [{"serial_no": "abc123", "public_key_pem": own_pem}], "apiv3_key": "A".repeat(32)}))
        .await
        .expect("put");
    assert_eq!(replaced["merchant_keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(replaced["merchant_keys"][0]["serial_no"], "ABC123");
    assert_eq!(replaced["apiv3_key"], "A".repeat(32));
    assert_eq!(
        replaced["platform_public_key"], out["platform_public_key"],
        "minted once"
    );

    let small = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("key");
    let small_pem = RsaPublicKey::from(&small)
        .to_public_key_pem(LineEnding::LF)
        .expect("pem");
    for (body, case) in [
        (json!({"apiv3_key": "short"}), "apiv3_key"),
        (
            json!({"merchant_keys": [{"serial_no": "X", "public_key_pem": "nope"}]}),
            "not a key",
        ),
        (
            json!({"merchant_keys": [{"serial_no": "X", "public_key_pem": small_pem}]}),
            "RSA 1024",
        ),
        (
            json!({"merchant_keys": [{"public_key_pem": own_pem}]}),
            "no serial",
        ),
        (
            json!({"merchant_keys": [{"certificate_pem": "-----BEGIN CERTIFICATE-----"}]}),
            "certificates",
        ),
        (json!({"platform_mode": "other"}), "mode"),
    ] {
        let answer = server.sandbox.put::<Value>(&path, &body).await;
        assert!(
            matches!(
                answer,
                Err(userorder_client::Error::Sandbox { status: 400, .. })
            ),
            "{case}: {answer:?}"
        );
    }
    let unknown = server
        .sandbox
        .put::<Value>("/merchants/1999999999/apiv3", &json!({}))
        .await;
    assert!(
        matches!(
            unknown,
            Err(userorder_client::Error::Sandbox { status: 404, .. })
        ),
        "{unknown:?}"
    );
    let shop = server.shop().await;
    let unconfigured = server
        .sandbox
        .get::<Value>(&format!("/merchants/{}/apiv3", shop.mchid))
        .await;
    assert!(
        matches!(
            unconfigured,
            Err(userorder_client::Error::Sandbox { status: 404, .. })
        ),
        "{unconfigured:?}"
    );
}

/// SPEC §11.1 and §11.3: unknown paths and methods first, then the signature's checks in
/// order, each 401 SIGN_ERROR with its message; a signature that does not verify says what
/// was expected.
async fn requests_are_authenticated_in_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (merchant, _) = merchant(&server).await;
    let client = reqwest::Client::new();
    let unknown = client
        .get(format!("{}/v3/pay/partner/transactions/jsapi", server.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status().as_u16(), 404);
    assert_eq!(unknown.text().await.expect("body"), "", "an empty body");
    let wrong_method = client
        .post(format!("{}/v3/certificates", server.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert_eq!(wrong_method.text().await.expect("body"), "");

    refused(
        get_certificates(&server, None, false).await,
        400,
        "INVALID_REQUEST",
        "Http头缺少Accept或User-Agent",
    )
    .await;
    let target = "/v3/certificates";
    let good = merchant.authorization("GET", target, "", now());
    let cases = [
        (
            String::new(),
            "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》",
        ),
        (
            good.replace("WECHATPAY2", "WECHATPAY3"),
            "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》",
        ),
        (
            merchant.authorization("GET", target, "", now() - 301),
            "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟",
        ),
        (
            good.replace(
                &format!("mchid=\"{}\"", merchant.mchid),
                "mchid=\"1999999999\"",
            ),
            "商户号不存在或未配置APIv3凭证",
        ),
        (
            good.replace(
                &merchant.serial_no,
                "0000000000000000000000000000000000000000",
            ),
            "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
        ),
        (
            merchant.authorization("GET", "/v3/certificates?x=1", "", now()),
            "签名错误，请检查后再试",
        ),
    ];
    for (authorization, message) in &cases {
        refused(
            get_certificates(&server, Some(authorization), true).await,
            401,
            "SIGN_ERROR",
            message,
        )
        .await;
    }
    // The serial is compared case-insensitively.
    let lower = good.replace(&merchant.serial_no, &merchant.serial_no.to_lowercase());
    refused(
        get_certificates(&server, Some(&lower), true).await,
        404,
        "RESOURCE_NOT_EXISTS",
        "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。",
    )
    .await;
    let wrong = merchant.authorization("GET", "/v3/certificates?x=1", "", now());
    let headers = refused(
        get_certificates(&server, Some(&wrong), true).await,
        401,
        "SIGN_ERROR",
        "签名错误，请检查后再试",
    )
    .await;
    let expected = headers
        .get("userorder-expected-message")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| STANDARD.decode(v).ok())
        .expect("the message the server built");
    let text = String::from_utf8(expected).expect("utf-8");
    assert!(text.starts_with("GET\n/v3/certificates\n"), "{text:?}");
}

/// SPEC §11.11 and §11.4: in certificate mode the list decrypts with the APIv3 key to the
/// certificates the sandbox shows, and the answer is signed by the newest one; a rotation
/// signs from then on.
async fn certificates_are_encrypted_and_answers_signed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (merchant, out) = merchant(&server).await;
    let path = format!("/merchants/{}/apiv3", merchant.mchid);
    let switched: Value = server
        .sandbox
        .put(&path, &json!({"platform_mode": "certificate"}))
        .await
        .expect("certificate mode");
    let first = switched["platform_certificates"][0].clone();
    let serial = first["serial_no"].as_str().expect("serial");
    assert_eq!(serial.len(), 40);
    assert!(
        serial
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
    );

    let fetch = || async {
        let response = get_certificates(
            &server,
            Some(&merchant.authorization("GET", "/v3/certificates", "", now())),
            true,
        )
        .await;
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers().clone();
        (headers, response.text().await.expect("body"))
    };
    let (headers, body) = fetch().await;
    assert_eq!(
        verified_signer(&headers, &body, &first),
        serial,
        "signed by the newest certificate"
    );
    let listed: Value = serde_json::from_str(&body).expect("json");
    let item = &listed["data"][0];
    assert_eq!(item["serial_no"], first["serial_no"]);
    assert_eq!(item["effective_time"], first["effective_time"]);
    let encrypted = &item["encrypt_certificate"];
    assert_eq!(encrypted["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(encrypted["associated_data"], "certificate");
    let apiv3_key = out["apiv3_key"].as_str().expect("key");
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(apiv3_key.as_bytes()).expect("key");
    let nonce = encrypted["nonce"].as_str().expect("nonce");
    let ciphertext = STANDARD
        .decode(encrypted["ciphertext"].as_str().expect("ciphertext"))
        .expect("base64");
    let plain = cipher
        .decrypt(
            aes_gcm::Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: &ciphertext,
                aad: b"certificate",
            },
        )
        .expect("decrypts with the APIv3 key");
    assert_eq!(
        String::from_utf8(plain).expect("pem"),
        first["pem"].as_str().expect("pem")
    );

    // Rotation: a new certificate signs from now; both are listed until the old is dropped.
    let rotated: Value = server
        .sandbox
        .post(&format!("{path}/platform-certificates"), &json!({}))
        .await
        .expect("rotate");
    let newest = rotated["platform_certificates"][0].clone();
    assert_eq!(
        rotated["platform_certificates"].as_array().map(Vec::len),
        Some(2)
    );
    let (headers, body) = fetch().await;
    assert_eq!(
        verified_signer(&headers, &body, &newest),
        newest["serial_no"].as_str().expect("serial")
    );
    let listed: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        listed["data"].as_array().map(Vec::len),
        Some(2),
        "both unexpired"
    );
    assert_eq!(
        listed["data"][0]["serial_no"], newest["serial_no"],
        "newest first"
    );
    let dropped: Value = server
        .sandbox
        .post(
            &format!("{path}/platform-certificates"),
            &json!({"expire_previous": true}),
        )
        .await
        .expect("rotate");
    assert_eq!(
        dropped["platform_certificates"].as_array().map(Vec::len),
        Some(1)
    );
}

/// Checks an answer's `Wechatpay-*` signature under a platform certificate's key (as the
/// sandbox shows it); answers the `Wechatpay-Serial`.
pub(crate) fn verified_signer(
    headers: &reqwest::header::HeaderMap,
    body: &str,
    certificate: &Value,
) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        header("wechatpay-signature-type"),
        "WECHATPAY2-SHA256-RSA2048"
    );
    assert_eq!(header("wechatpay-nonce").len(), 32);
    let message = format!(
        "{}\n{}\n{body}\n",
        header("wechatpay-timestamp"),
        header("wechatpay-nonce")
    );
    let pem = certificate["public_key_pem"].as_str().expect("pem");
    let key = RsaPublicKey::from_public_key_pem(pem).expect("public key");
    let signature = STANDARD
        .decode(header("wechatpay-signature"))
        .expect("base64");
    VerifyingKey::<Sha256>::new(key)
        .verify(
            message.as_bytes(),
            &Signature::try_from(signature.as_slice()).expect("signature"),
        )
        .expect("the answer's signature verifies");
    header("wechatpay-serial")
}

/// The SDK's v3 client against the server: it signs, verifies answers under the platform
/// key it trusts (and refuses one it does not), decrypts the certificates, and reports
/// refusals with their status and code.
async fn the_sdk_signs_verifies_and_decrypts(backend: Backend) {
    use userorder_client::Error;
    use userorder_client::pay_v3::PayClient;
    let server = TestServer::start(backend).await;
    let (merchant, out) = merchant(&server).await;
    let path = format!("/merchants/{}/apiv3", merchant.mchid);
    let client = |trusted: Option<&Value>| {
        let client = PayClient::new(
            &server.base,
            &merchant.mchid,
            &merchant.serial_no,
            &merchant.private_key_pem,
        )
        .expect("client");
        match trusted {
            Some(cert) => client
                .trust(
                    cert["serial_no"].as_str().expect("serial"),
                    cert["public_key_pem"].as_str().expect("pem"),
                )
                .expect("trust"),
            None => client,
        }
    };
    let none = client(None).certificates("x").await;
    assert!(
        matches!(&none, Err(Error::PayV3 { status: 404, code, .. }) if code == "RESOURCE_NOT_EXISTS"),
        "{none:?}"
    );
    let switched: Value = server
        .sandbox
        .put(&path, &json!({"platform_mode": "certificate"}))
        .await
        .expect("certificate mode");
    let certificate = &switched["platform_certificates"][0];
    let apiv3_key = out["apiv3_key"].as_str().expect("key");
    let listed = client(Some(certificate))
        .certificates(apiv3_key)
        .await
        .expect("certificates");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].pem, certificate["pem"].as_str().expect("pem"));
    let untrusted = client(None).certificates(apiv3_key).await;
    assert!(
        matches!(&untrusted, Err(Error::Decode(m)) if m.contains("not trusted")),
        "{untrusted:?}"
    );
    let wrong_key = client(Some(certificate))
        .certificates("B".repeat(32).as_str())
        .await;
    assert!(matches!(&wrong_key, Err(Error::Decode(_))), "{wrong_key:?}");
    let stranger = PayClient::new(&server.base, "1999999999", "AB", &merchant.private_key_pem)
        .expect("client")
        .certificates(apiv3_key)
        .await;
    assert!(
        matches!(&stranger, Err(Error::PayV3 { status: 401, code, .. }) if code == "SIGN_ERROR"),
        "{stranger:?}"
    );
}

/// A merchant registers its X.509 API certificate: the serial and key come from it, and
/// requests signed under that serial verify.
async fn a_merchant_certificate_registers_its_serial_and_key(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (merchant, _) = merchant(&server).await;
    let key_pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(
        &merchant.private_key_pem,
        &rcgen::PKCS_RSA_SHA256,
    )
    .expect("key pair");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0x5A, 0x01, 0xBC]));
    let certificate = params.self_signed(&key_pair).expect("certificate").pem();
    let path = format!("/merchants/{}/apiv3", merchant.mchid);
    let wrong = server
        .sandbox
        .put::<Value>(
            &path,
            &json!({"merchant_keys": [{"certificate_pem": certificate, "serial_no": "ABCD"}]}),
        )
        .await;
    assert!(
        matches!(
            wrong,
            Err(userorder_client::Error::Sandbox { status: 400, .. })
        ),
        "a serial that is not the certificate's: {wrong:?}"
    );
    let registered: Value = server
        .sandbox
        .put(
            &path,
            &json!({"merchant_keys": [{"certificate_pem": certificate}]}),
        )
        .await
        .expect("registered");
    assert_eq!(registered["merchant_keys"][0]["serial_no"], "5A01BC");
    let by_certificate = Merchant {
        serial_no: "5a01bc".into(),
        ..merchant
    };
    let answer = get_certificates(
        &server,
        Some(&by_certificate.authorization("GET", "/v3/certificates", "", now())),
        true,
    )
    .await;
    refused(
        answer,
        404,
        "RESOURCE_NOT_EXISTS",
        "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。",
    )
    .await;
}

/// `POST /sandbox/merchants` with `apiv3`: the merchant and its credentials at once, or,
/// for a bad setting, neither.
async fn a_merchant_is_created_with_its_credentials(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let bad = server
        .sandbox
        .post::<Value>(
            "/merchants",
            &json!({"mchid": "1900000777", "appids": [shop.appid], "apiv3": {"apiv3_key": "short"}}),
        )
        .await;
    assert!(
        matches!(
            bad,
            Err(userorder_client::Error::Sandbox { status: 400, .. })
        ),
        "{bad:?}"
    );
    let merchants: Value = server.sandbox.get("/merchants").await.expect("merchants");
    assert!(
        !merchants.to_string().contains("1900000777"),
        "nothing stored: {merchants}"
    );
    let created: Value = server
        .sandbox
        .post(
            "/merchants",
            &json!({"mchid": "1900000777", "appids": [shop.appid],
                    "apiv3": {"generate_merchant_key": true, "refund_delay_s": 30}}),
        )
        .await
        .expect("created");
    assert_eq!(created["mchid"], "1900000777");
    assert_eq!(created["apiv3"]["refund_delay_s"], 30);
    assert!(created["apiv3"]["generated"]["private_key_pem"].is_string());
    let stored: Value = server
        .sandbox
        .get("/merchants/1900000777/apiv3")
        .await
        .expect("stored");
    assert_eq!(
        stored["merchant_keys"][0]["serial_no"],
        created["apiv3"]["generated"]["serial_no"]
    );
    assert!(
        stored.get("generated").is_none(),
        "the private half is shown once"
    );
}

on_every_backend!(
    a_merchant_is_created_with_its_credentials,
    a_merchant_certificate_registers_its_serial_and_key,
    the_sdk_signs_verifies_and_decrypts,
    credentials_are_kept_and_checked,
    requests_are_authenticated_in_order,
    certificates_are_encrypted_and_answers_signed,
);
