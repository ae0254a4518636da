//! `userorder trade …`: order shipping management (`/wxa/sec/order/*`, SPEC §10) for
//! scripts — ship a paid payment, list the app's orders by state, read one order.

use serde_json::{Value, json};
use userorder_model::sec_order::{OrderListIn, OrderOut, PaymentRefIn};

use super::wechat::AppArgs;
use super::{Failure, print};

#[derive(Debug, clap::Subcommand)]
pub enum TradeCommand {
    /// Ship a paid payment whole (upload_shipping_info, UNIFIED_DELIVERY).
    Ship {
        #[command(flatten)]
        order: OrderArgs,
        /// The payer's openid.
        #[arg(long)]
        openid: String,
        /// 1 courier (default), 2 same-city, 3 virtual goods, 4 self-pickup.
        #[arg(long, default_value_t = 1)]
        logistics_type: i64,
        /// The carrier's code (courier only), e.g. SF.
        #[arg(long, default_value = "SF")]
        express_company: String,
        /// The tracking number (courier only); default: one made from the order.
        #[arg(long)]
        tracking_no: Option<String>,
        #[arg(long, default_value = "商品")]
        item_desc: String,
    },
    /// List the app's orders (every page), optionally by state 1–6 and payer.
    List {
        /// 1 to ship, 2 shipped, 3 confirmed, 4 completed, 5 refunded, 6 pending settlement.
        #[arg(long)]
        state: Option<i64>,
        #[arg(long)]
        openid: Option<String>,
    },
    /// One order with its state and shipping (get_order).
    Get {
        #[command(flatten)]
        order: OrderArgs,
    },
}

/// An order by transaction_id, or by merchant id and out_trade_no.
#[derive(Debug, clap::Args)]
pub struct OrderArgs {
    #[arg(long, required_unless_present = "out_trade_no")]
    pub transaction_id: Option<String>,
    #[arg(long, requires = "out_trade_no")]
    pub mchid: Option<String>,
    #[arg(long, requires = "mchid", conflicts_with = "transaction_id")]
    pub out_trade_no: Option<String>,
}

impl OrderArgs {
    fn order_key(&self) -> Value {
        match &self.transaction_id {
            Some(id) => json!({"order_number_type": 2, "transaction_id": id}),
            None => {
                json!({"order_number_type": 1, "mchid": self.mchid, "out_trade_no": self.out_trade_no})
            }
        }
    }

    fn payment_ref(&self) -> PaymentRefIn {
        PaymentRefIn {
            transaction_id: self.transaction_id.clone(),
            merchant_id: self.mchid.clone(),
            merchant_trade_no: self.out_trade_no.clone(),
            sub_merchant_id: None,
        }
    }

    fn name(&self) -> String {
        self.transaction_id
            .clone()
            .or_else(|| self.out_trade_no.clone())
            .unwrap_or_default()
    }
}

pub async fn run(app: &AppArgs, command: TradeCommand, json_out: bool) -> Result<(), Failure> {
    let client = app.app_client()?;
    match command {
        TradeCommand::Ship {
            order,
            openid,
            logistics_type,
            express_company,
            tracking_no,
            item_desc,
        } => {
            let mut parcel = json!({"item_desc": item_desc});
            if logistics_type == 1 {
                parcel["express_company"] = json!(express_company);
                parcel["tracking_no"] = json!(
                    tracking_no.unwrap_or_else(|| format!("{express_company}{}", order.name()))
                );
            }
            let upload_time = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| Failure::Other(e.to_string()))?;
            let body = json!({"order_key": order.order_key(), "logistics_type": logistics_type,
                "delivery_mode": 1, "shipping_list": [parcel], "upload_time": upload_time,
                "payer": {"openid": openid}});
            let answer: Value = client
                .post("/wxa/sec/order/upload_shipping_info", &body)
                .await?;
            print(&answer, json_out);
        }
        TradeCommand::Get { order } => {
            let found = client.get_order(&order.payment_ref()).await?;
            print(&json!(found), json_out);
        }
        TradeCommand::List { state, openid } => {
            let mut filter = OrderListIn {
                order_state: state,
                openid,
                ..OrderListIn::default()
            };
            let mut orders: Vec<OrderOut> = Vec::new();
            loop {
                let page = client.get_order_list(&filter).await?;
                orders.extend(page.order_list);
                if !page.has_more {
                    break;
                }
                filter.last_index = Some(page.last_index);
            }
            if json_out {
                for order in &orders {
                    println!("{}", json!(order));
                }
            } else {
                println!(
                    "{:<30} {:>5} {:>10} {:>10}  description",
                    "transaction_id", "state", "paid_fen", "pay_time"
                );
                for o in &orders {
                    println!(
                        "{:<30} {:>5} {:>10} {:>10}  {}",
                        o.transaction_id, o.order_state, o.paid_amount, o.pay_time, o.description
                    );
                }
                println!("{} orders", orders.len());
            }
        }
    }
    Ok(())
}
