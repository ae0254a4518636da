//! `userorder pay …`: WeChat Pay API v3 as a merchant calls it (SPEC §11), against WeChat
//! Pay or a userorder server — every request signed with the merchant's key, every answer
//! verified under the platform key.

use reqwest::Method;
use serde_json::{Value, json};
use userorder_client::pay_v3::PayClient;

use super::{Failure, print};

#[derive(Debug, clap::Args)]
pub struct PayArgs {
    /// WeChat Pay's API base URL, or a userorder server's.
    #[arg(
        long,
        env = "USERORDER_PAY_BASE_URL",
        default_value = "https://api.mch.weixin.qq.com"
    )]
    pub base_url: String,
    #[arg(long, env = "USERORDER_MCHID")]
    pub mchid: String,
    /// The serial of the merchant API key (certificate) that signs.
    #[arg(long, env = "USERORDER_SERIAL_NO")]
    pub serial_no: String,
    /// The merchant API private key, a PKCS#8 PEM file.
    #[arg(long, env = "USERORDER_PRIVATE_KEY")]
    pub private_key: String,
    /// The platform key's id (`PUB_KEY_ID_…`, or a certificate's serial).
    #[arg(long, env = "USERORDER_PLATFORM_KEY_ID")]
    pub platform_key_id: String,
    /// The platform's public key, a PEM file.
    #[arg(long, env = "USERORDER_PLATFORM_KEY")]
    pub platform_key: String,
    #[command(subcommand)]
    pub command: PayCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PayCommand {
    /// JSAPI prepay: prints the prepay_id.
    Prepay {
        #[arg(long)]
        appid: String,
        #[arg(long)]
        openid: String,
        #[arg(long)]
        out_trade_no: String,
        /// In fen.
        #[arg(long)]
        amount: i64,
        #[arg(long)]
        description: String,
        #[arg(long)]
        notify_url: String,
    },
    /// A payment by out_trade_no (or --transaction-id).
    Query {
        #[arg(long, required_unless_present = "transaction_id")]
        out_trade_no: Option<String>,
        #[arg(long, conflicts_with = "out_trade_no")]
        transaction_id: Option<String>,
    },
    /// Close an unpaid payment.
    Close {
        #[arg(long)]
        out_trade_no: String,
    },
    /// Refund part or all of a paid payment.
    Refund {
        #[arg(long)]
        out_trade_no: String,
        #[arg(long)]
        out_refund_no: String,
        /// In fen.
        #[arg(long)]
        amount: i64,
        /// The payment's amount, in fen.
        #[arg(long)]
        total: i64,
        #[arg(long)]
        notify_url: Option<String>,
    },
    /// A refund by out_refund_no.
    RefundQuery {
        #[arg(long)]
        out_refund_no: String,
    },
}

fn read(path: &str, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("{what} {path}: {e}")))
}

/// Path segments are sent percent-encoded (`|` in an out_trade_no).
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'*' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub async fn run(args: PayArgs, json_output: bool) -> Result<(), Failure> {
    let client = PayClient::new(
        &args.base_url,
        &args.mchid,
        &args.serial_no,
        &read(&args.private_key, "private key")?,
    )?
    .trust(
        &args.platform_key_id,
        &read(&args.platform_key, "platform key")?,
    )?;
    let mchid = &args.mchid;
    let (method, target, body) = match args.command {
        PayCommand::Prepay {
            appid,
            openid,
            out_trade_no,
            amount,
            description,
            notify_url,
        } => (
            Method::POST,
            "/v3/pay/transactions/jsapi".to_owned(),
            Some(json!({
                "appid": appid, "mchid": mchid, "description": description,
                "out_trade_no": out_trade_no, "notify_url": notify_url,
                "amount": {"total": amount, "currency": "CNY"}, "payer": {"openid": openid},
            })),
        ),
        PayCommand::Query {
            out_trade_no: Some(no),
            ..
        } => (
            Method::GET,
            format!(
                "/v3/pay/transactions/out-trade-no/{}?mchid={mchid}",
                segment(&no)
            ),
            None,
        ),
        PayCommand::Query { transaction_id, .. } => (
            Method::GET,
            format!(
                "/v3/pay/transactions/id/{}?mchid={mchid}",
                segment(&transaction_id.unwrap_or_default())
            ),
            None,
        ),
        PayCommand::Close { out_trade_no } => (
            Method::POST,
            format!(
                "/v3/pay/transactions/out-trade-no/{}/close",
                segment(&out_trade_no)
            ),
            Some(json!({ "mchid": mchid })),
        ),
        PayCommand::Refund {
            out_trade_no,
            out_refund_no,
            amount,
            total,
            notify_url,
        } => (
            Method::POST,
            "/v3/refund/domestic/refunds".to_owned(),
            Some(json!({
                "out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
                "notify_url": notify_url,
                "amount": {"refund": amount, "total": total, "currency": "CNY"},
            })),
        ),
        PayCommand::RefundQuery { out_refund_no } => (
            Method::GET,
            format!("/v3/refund/domestic/refunds/{}", segment(&out_refund_no)),
            None,
        ),
    };
    let body = body.map(|b| b.to_string());
    let answer = client.call(method, &target, body.as_deref()).await?;
    let value: Value = match answer.body.as_str() {
        "" => json!({ "status": answer.status }),
        text => serde_json::from_str(text).map_err(|e| Failure::Other(e.to_string()))?,
    };
    match value["prepay_id"].as_str() {
        Some(prepay_id) if !json_output => println!("{prepay_id}"),
        _ => print(&value, json_output),
    }
    Ok(())
}
