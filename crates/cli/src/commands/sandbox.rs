//! `userorder sandbox …`: the sandbox API for scripts (apps, merchants, openids, payments).

use serde_json::{Value, json};
use userorder_client::Sandbox;

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
    };
    print(&answer, json_out);
    Ok(())
}

/// A typed answer as the JSON the command prints (a derived Serialize cannot fail).
fn shown(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).unwrap_or_default()
}
