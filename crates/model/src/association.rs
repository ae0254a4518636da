//! When shopping details are associated with a payment (SPEC §5.4), and what verify
//! answers otherwise (SPEC §6.2). One pure function, used by every store backend.

use serde::{Deserialize, Serialize};

use crate::shopping::{OrderKey, OrderNumberType};

/// What `shoppinginfo/verify` answers. **Decision:** the names are this project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyResult {
    Associated,
    NotUploaded,
    NotPaid,
    PayerMismatch,
    OrderMismatch,
}

/// The sandbox's view of a payment, or of one sub-payment of a combined payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentKeys {
    pub transaction_id: String,
    pub mchid: String,
    pub out_trade_no: String,
}

impl PaymentKeys {
    /// The key of this payment in the form an upload of `kind` uses.
    pub fn key(&self, kind: OrderNumberType) -> OrderKey {
        match kind {
            OrderNumberType::Merchant => OrderKey::Merchant {
                mchid: self.mchid.clone(),
                out_trade_no: self.out_trade_no.clone(),
            },
            OrderNumberType::WxPay => OrderKey::WxPay {
                transaction_id: self.transaction_id.clone(),
            },
        }
    }
}

/// A payment as association needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts<'a> {
    pub appid: &'a str,
    pub openid: &'a str,
    pub paid: bool,
    pub keys: &'a PaymentKeys,
    /// Empty for a single payment.
    pub sub_payments: &'a [PaymentKeys],
}

/// An upload as association needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFacts<'a> {
    pub appid: &'a str,
    pub openid: &'a str,
    pub key: &'a OrderKey,
    pub combined: bool,
    pub sub_order_keys: &'a [OrderKey],
}

/// `Associated` when the payment is paid, by the same payer, in the same app, for the same
/// key and (for a combined payment) exactly the same sub-order keys.
pub fn verdict(upload: &UploadFacts<'_>, payment: Option<&PaymentFacts<'_>>) -> VerifyResult {
    let Some(payment) = payment else {
        return VerifyResult::NotPaid;
    };
    let kind = upload.key.number_type();
    let same_order = payment.appid == upload.appid
        && payment.keys.key(kind) == *upload.key
        && upload.combined != payment.sub_payments.is_empty()
        && same_keys(upload.sub_order_keys, payment.sub_payments, kind);
    if !same_order {
        VerifyResult::OrderMismatch
    } else if !payment.paid {
        VerifyResult::NotPaid
    } else if payment.openid != upload.openid {
        VerifyResult::PayerMismatch
    } else {
        VerifyResult::Associated
    }
}

fn same_keys(uploaded: &[OrderKey], paid: &[PaymentKeys], kind: OrderNumberType) -> bool {
    uploaded.len() == paid.len() && paid.iter().all(|p| uploaded.contains(&p.key(kind)))
}
