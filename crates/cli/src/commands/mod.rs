//! The SDK-backed subcommands: WeChat calls (`token`, `upload`, `ship`, `verify`), the
//! sandbox helpers and `explain`. Exit codes: 0 success, 2 usage, 3 WeChat refused, 4
//! transport, 1 anything else.

pub mod bulk;
pub mod pay;
pub mod sandbox;
pub mod trade;
pub mod wechat;

use std::io::Read;
use std::process::ExitCode;

use serde_json::Value;
use userorder_client::Error;
use userorder_model::ErrCode;

pub const USAGE: u8 = 2;
pub const REFUSED: u8 = 3;
pub const TRANSPORT: u8 = 4;

/// How a command failed, for its exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Sdk(#[from] Error),
    /// Some lines of a bulk run were refused; the summary already said which.
    #[error("{0}")]
    Partial(String),
    #[error("{0}")]
    Other(String),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Self::Usage(_) => USAGE,
            Self::Partial(_) => REFUSED,
            Self::Sdk(
                Error::WeChat { .. }
                | Error::PreValidation { .. }
                | Error::Sandbox { .. }
                | Error::PayV3 { .. },
            ) => REFUSED,
            Self::Sdk(Error::Transport(_)) => TRANSPORT,
            Self::Sdk(Error::Decode(_)) | Self::Other(_) => 1,
        })
    }
}

/// A JSON body from a file, or standard input for `-`.
pub fn read_json(path: &str) -> Result<Value, Failure> {
    let text = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("reading standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("reading {path}: {e}")))?
    };
    serde_json::from_str(&text).map_err(|e| Failure::Usage(format!("{path} is not JSON: {e}")))
}

/// `userorder explain ERRCODE`.
pub fn explain(code: i64, json: bool) -> Result<(), Failure> {
    let code = ErrCode(code);
    let known = ErrCode::ALL.contains(&code);
    if json {
        println!(
            "{}",
            serde_json::json!({"errcode": code, "errmsg": code.default_message(), "english": code.english(), "hint": code.hint(), "known": known})
        );
    } else {
        // WeChat's errmsg first (Chinese for the product codes), then what it means.
        println!("{code}  {}", code.default_message());
        if code.chinese().is_some() {
            println!("{}", code.english());
        }
        println!("{}", code.hint());
    }
    if known {
        Ok(())
    } else {
        Err(Failure::Other(format!(
            "{code} is not an errcode this project knows"
        )))
    }
}

/// Prints a value: pretty for people, one line for scripts.
pub fn print(value: &Value, json: bool) {
    if json {
        println!("{value}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }
}
