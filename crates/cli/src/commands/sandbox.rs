//! `userorder sandbox …`: the sandbox API for scripts (apps, merchants, openids, payments).

use serde_json::{Value, json};
use userorder_client::Sandbox;
use userorder_model::sandbox::Push;

use super::{Failure, print};

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// The userorder server.
    #[arg(
        long,
        env = "USERORDER_BASE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub base_url: String,
    #[arg(long, env = "USERORDER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Create an app; prints its appid and secret.
    CreateApp {
        #[arg(long)]
        appid: Option<String>,
        #[arg(long)]
        secret: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// NOT_OPEN, OPEN, IN_REVIEW or APPROVED (the default).
        #[arg(long)]
        product_state: Option<String>,
    },
    /// Create a merchant bound to apps.
    CreateMerchant {
        #[arg(long = "appid", required = true)]
        appids: Vec<String>,
        #[arg(long)]
        mchid: Option<String>,
    },
    /// Mint an openid of a user under an app.
    CreateOpenid {
        #[arg(long)]
        appid: String,
        #[arg(long)]
        user_id: Option<u64>,
    },
    /// Create an unpaid payment; `--sub MCHID:AMOUNT` (repeatable) makes it combined.
    CreatePayment {
        #[arg(long)]
        appid: String,
        #[arg(long)]
        openid: String,
        #[arg(long)]
        mchid: String,
        #[arg(long)]
        amount: i64,
        #[arg(long)]
        out_trade_no: Option<String>,
        #[arg(long = "sub")]
        subs: Vec<String>,
    },
    /// Pay a payment (associates matching uploads).
    Pay { transaction_id: String },
    /// Refund a paid payment with its sub-payments (order_state 5).
    Refund { transaction_id: String },
    /// The payer confirms receipt of a shipped order.
    ConfirmReceipt { transaction_id: String },
    /// Move the sandbox clock forward: `--days`, `--seconds` or both.
    Advance {
        #[arg(long, default_value_t = 0)]
        days: i64,
        #[arg(long, default_value_t = 0)]
        seconds: i64,
    },
    /// Where an app's order shipping management events are pushed (no --url: nowhere).
    Push {
        #[arg(long)]
        appid: String,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, requires = "url")]
        token: Option<String>,
    },
    /// Give a merchant WeChat Pay v3 credentials with a generated API key; writes its private
    /// key and the platform's public key to files for `userorder pay`.
    Apiv3 {
        #[arg(long)]
        mchid: String,
        /// Where the merchant's private key goes (PKCS#8 PEM).
        #[arg(long, default_value = "apiclient_key.pem")]
        private_key_out: String,
        /// Where the platform's public key goes (PEM).
        #[arg(long, default_value = "pub_key.pem")]
        platform_key_out: String,
    },
    /// The payer pays a v3 prepay through wx.requestPayment, with a paySign signed by the
    /// merchant key (as the merchant's backend gives the mini program).
    RequestPayment {
        #[arg(long)]
        prepay_id: String,
        #[arg(long)]
        appid: String,
        #[arg(long)]
        mchid: String,
        #[arg(long)]
        serial_no: String,
        /// The merchant API private key, a PKCS#8 PEM file.
        #[arg(long)]
        private_key: String,
        /// SUCCESS (default), CANCEL or PAYERROR.
        #[arg(long)]
        result: Option<String>,
    },
    /// The event log (swept first), oldest first.
    Events {
        #[arg(long)]
        appid: Option<String>,
        /// Only events after this id.
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
}

pub async fn run(args: SandboxArgs, json_out: bool) -> Result<(), Failure> {
    let sandbox = Sandbox::new(&args.base_url, &args.admin_token);
    let answer: Value = match args.command {
        SandboxCommand::CreateApp {
            appid,
            secret,
            name,
            product_state,
        } => {
            let body = json!({"appid": appid, "secret": secret, "name": name, "product_state": product_state});
            shown(sandbox.create_app(&body).await?)
        }
        SandboxCommand::CreateMerchant { appids, mchid } => {
            sandbox
                .post::<Value>("/merchants", &json!({"appids": appids, "mchid": mchid}))
                .await?
        }
        SandboxCommand::CreateOpenid { appid, user_id } => {
            sandbox
                .post::<Value>(
                    &format!("/apps/{appid}/openids"),
                    &json!({"user_id": user_id}),
                )
                .await?
        }
        SandboxCommand::CreatePayment {
            appid,
            openid,
            mchid,
            amount,
            out_trade_no,
            subs,
        } => {
            let mut body = json!({"appid": appid, "openid": openid, "mchid": mchid, "amount": amount, "out_trade_no": out_trade_no});
            if !subs.is_empty() {
                let parsed = subs
                    .iter()
                    .map(|s| {
                        let (mchid, amount) = s.split_once(':').ok_or_else(|| {
                            Failure::Usage(format!("--sub {s}: use MCHID:AMOUNT"))
                        })?;
                        let amount: i64 = amount
                            .parse()
                            .map_err(|_| Failure::Usage(format!("--sub {s}: AMOUNT is fen")))?;
                        Ok(json!({"mchid": mchid, "amount": amount}))
                    })
                    .collect::<Result<Vec<_>, Failure>>()?;
                body["sub_orders"] = json!(parsed);
            }
            shown(sandbox.create_payment(&body).await?)
        }
        SandboxCommand::Pay { transaction_id } => shown(sandbox.pay(&transaction_id).await?),
        SandboxCommand::Refund { transaction_id } => shown(sandbox.refund(&transaction_id).await?),
        SandboxCommand::ConfirmReceipt { transaction_id } => {
            json!({"status": sandbox.confirm_receipt(&transaction_id, None).await?})
        }
        SandboxCommand::Advance { days, seconds } => {
            shown(sandbox.advance_clock(days * 86_400 + seconds).await?)
        }
        SandboxCommand::Push { appid, url, token } => {
            shown(sandbox.set_push(&appid, &Push { url, token }).await?)
        }
        SandboxCommand::Apiv3 {
            mchid,
            private_key_out,
            platform_key_out,
        } => {
            let out: Value = sandbox
                .put(
                    &format!("/merchants/{mchid}/apiv3"),
                    &json!({"generate_merchant_key": true}),
                )
                .await?;
            let write = |path: &str, pem: &Value| {
                std::fs::write(path, pem.as_str().unwrap_or_default())
                    .map_err(|e| Failure::Other(format!("{path}: {e}")))
            };
            write(&private_key_out, &out["generated"]["private_key_pem"])?;
            write(&platform_key_out, &out["platform_public_key"]["pem"])?;
            json!({
                "mchid": mchid,
                "serial_no": out["generated"]["serial_no"],
                "private_key": private_key_out,
                "platform_key_id": out["platform_public_key"]["id"],
                "platform_key": platform_key_out,
                "apiv3_key": out["apiv3_key"],
            })
        }
        SandboxCommand::RequestPayment {
            prepay_id,
            appid,
            mchid,
            serial_no,
            private_key,
            result,
        } => {
            let pem = std::fs::read_to_string(&private_key)
                .map_err(|e| Failure::Usage(format!("private key {private_key}: {e}")))?;
            let client =
                userorder_client::pay_v3::PayClient::new(&args.base_url, &mchid, &serial_no, &pem)?;
            let mut body = client.payment_params(&appid, &prepay_id);
            if let Some(result) = result {
                body["result"] = json!(result);
            }
            let answer: Value = sandbox.post("/request-payment", &body).await?;
            if answer["errMsg"] != "requestPayment:ok" {
                let reason = answer["errMsg"].as_str().unwrap_or_default();
                return Err(Failure::Other(reason.to_owned()));
            }
            answer
        }
        SandboxCommand::Events { appid, after } => {
            let events = sandbox.events(appid.as_deref(), after).await?;
            if !json_out {
                println!(
                    "{:>6} {:>12} {:<32} {:<10} {:>8}  order",
                    "id", "at", "event", "delivery", "attempts"
                );
                for e in &events {
                    println!(
                        "{:>6} {:>12} {:<32} {:<10} {:>8}  {}",
                        e.id,
                        e.at,
                        e.event,
                        e.delivery.state.as_str(),
                        e.delivery.attempts,
                        // A WeChat Pay notification names its payment in its resource.
                        e.payload["transaction_id"]
                            .as_str()
                            .or_else(|| e.payload["resource"]["transaction_id"].as_str())
                            .or_else(|| e.payload["resource"]["out_trade_no"].as_str())
                            .unwrap_or("-")
                    );
                }
                return Ok(());
            }
            json!({"events": events})
        }
    };
    print(&answer, json_out);
    Ok(())
}

/// A typed answer as the JSON the command prints (a derived Serialize cannot fail).
fn shown(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).unwrap_or_default()
}
