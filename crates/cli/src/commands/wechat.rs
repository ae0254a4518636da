//! `token`, `upload FILE|-`, `ship FILE|-`, `verify` against any base URL: userorder or
//! WeChat itself.

use serde_json::{Value, json};
use userorder_client::{AppClient, Client, TokenSource};

use super::{Failure, print, read_json};

/// Who is calling where, from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct AppArgs {
    /// WeChat's API base URL, or a userorder server's.
    #[arg(
        long,
        env = "USERORDER_BASE_URL",
        default_value = "https://api.weixin.qq.com",
        global = true
    )]
    pub base_url: String,
    #[arg(long, env = "USERORDER_APPID", global = true)]
    pub appid: Option<String>,
    #[arg(long, env = "USERORDER_SECRET", hide_env_values = true, global = true)]
    pub secret: Option<String>,
    /// Fetch tokens from /cgi-bin/stable_token instead of /cgi-bin/token.
    #[arg(long, global = true)]
    pub stable: bool,
    /// Send requests without checking them locally first.
    #[arg(long, global = true)]
    pub no_prevalidate: bool,
}

impl AppArgs {
    pub fn app_client(&self) -> Result<AppClient, Failure> {
        let appid = self
            .appid
            .clone()
            .ok_or_else(|| Failure::Usage("--appid (or USERORDER_APPID) is required".into()))?;
        let secret = self
            .secret
            .clone()
            .ok_or_else(|| Failure::Usage("--secret (or USERORDER_SECRET) is required".into()))?;
        let source = if self.stable {
            TokenSource::Stable
        } else {
            TokenSource::Basic
        };
        let app =
            AppClient::new(Client::new(&self.base_url), appid, secret).with_token_source(source);
        Ok(if self.no_prevalidate {
            app.without_prevalidation()
        } else {
            app
        })
    }
}

pub async fn token(app: &AppArgs, json: bool) -> Result<(), Failure> {
    let token = app.app_client()?.access_token().await?;
    if json {
        println!("{}", json!({ "access_token": token }));
    } else {
        println!("{token}");
    }
    Ok(())
}

/// Combined or single, told by the body: a combined body has `sub_orders`.
fn path_for(body: &Value, single: &'static str, combined: &'static str) -> &'static str {
    if body.get("sub_orders").is_some() {
        combined
    } else {
        single
    }
}

pub fn upload_path(body: &Value) -> &'static str {
    path_for(body, "/user-order/orders", "/user-order/combine-orders")
}

pub async fn upload(app: &AppArgs, file: &str, json: bool) -> Result<(), Failure> {
    let body = read_json(file)?;
    let answer: Value = app.app_client()?.post(upload_path(&body), &body).await?;
    print(&answer, json);
    Ok(())
}

pub async fn ship(app: &AppArgs, file: &str, json: bool) -> Result<(), Failure> {
    let body = read_json(file)?;
    let path = path_for(
        &body,
        "/user-order/orders/shippings",
        "/user-order/combine-orders/shippings",
    );
    let answer: Value = app.app_client()?.post(path, &body).await?;
    print(&answer, json);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A verify body (`{order_key, payer}`) from a file or `-`; or use the flags below.
    pub file: Option<String>,
    #[arg(long)]
    pub mchid: Option<String>,
    #[arg(long)]
    pub out_trade_no: Option<String>,
    #[arg(long, conflicts_with_all = ["mchid", "out_trade_no"])]
    pub transaction_id: Option<String>,
    #[arg(long)]
    pub openid: Option<String>,
}

pub async fn verify(app: &AppArgs, args: &VerifyArgs, json: bool) -> Result<(), Failure> {
    let body = match (
        &args.file,
        &args.transaction_id,
        &args.mchid,
        &args.out_trade_no,
    ) {
        (Some(file), ..) => read_json(file)?,
        (None, Some(txid), ..) => {
            json!({"order_key": {"order_number_type": 2, "transaction_id": txid}, "payer": {"openid": args.openid}})
        }
        (None, None, Some(mchid), Some(no)) => {
            json!({"order_key": {"order_number_type": 1, "mchid": mchid, "out_trade_no": no}, "payer": {"openid": args.openid}})
        }
        _ => {
            return Err(Failure::Usage(
                "give a FILE, --transaction-id, or --mchid with --out-trade-no".into(),
            ));
        }
    };
    let answer: Value = app
        .app_client()?
        .post("/user-order/shoppinginfo/verify", &body)
        .await?;
    if json {
        println!("{answer}");
    } else {
        println!("{}", answer["verify_result"].as_str().unwrap_or_default());
    }
    Ok(())
}
