//! `upload --jsonl FILE --concurrency N`: one upload per line, N in flight, a progress bar,
//! a summary by errcode, and every refused line written to a reject file with its rid and
//! errmsg. No line is skipped silently: a blank or malformed line is a refusal too.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use userorder_client::{AppClient, Error};
use userorder_model::ErrCode;

use super::Failure;
use super::wechat::upload_path;

/// What became of one line.
struct Outcome {
    line: usize,
    code: ErrCode,
    errmsg: String,
    rid: Option<String>,
}

async fn upload_line(app: &AppClient, line: usize, text: String) -> Outcome {
    let refused = |code: ErrCode, errmsg: String| Outcome {
        line,
        code,
        errmsg,
        rid: None,
    };
    if text.trim().is_empty() {
        return refused(ErrCode::EMPTY_POST_DATA, "empty line".into());
    }
    let body: Value = match serde_json::from_str(&text) {
        Ok(body) => body,
        Err(e) => return refused(ErrCode::DATA_FORMAT_ERROR, format!("not JSON: {e}")),
    };
    match app.post::<Value>(upload_path(&body), &body).await {
        Ok(_) => Outcome {
            line,
            code: ErrCode::OK,
            errmsg: "ok".into(),
            rid: None,
        },
        Err(e) => Outcome {
            line,
            code: e.code().unwrap_or(ErrCode::SYSTEM_ERROR),
            rid: e.rid().map(str::to_owned),
            errmsg: match &e {
                Error::WeChat { message, .. } | Error::PreValidation { message, .. } => {
                    message.clone()
                }
                other => other.to_string(),
            },
        },
    }
}

pub async fn run(
    app: AppClient,
    file: &str,
    concurrency: usize,
    rejects: Option<&str>,
    json_out: bool,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("reading {file}: {e}")))?;
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let rejects_path = rejects
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{file}.rejects.jsonl"));
    let mut rejects_file = std::fs::File::create(&rejects_path)
        .map_err(|e| Failure::Usage(format!("creating {rejects_path}: {e}")))?;

    let bar = ProgressBar::new(lines.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let app = Arc::new(app);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (i, text) in lines.into_iter().enumerate() {
        let (app, permits) = (app.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            upload_line(&app, i + 1, text).await
        });
    }
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let outcome = done.map_err(|e| Failure::Other(format!("an upload task failed: {e}")))?;
        *counts.entry(outcome.code.0).or_default() += 1;
        bar.inc(1);
        if !outcome.code.is_ok() {
            bar.set_message(format!("{} refused", outcomes.len() + 1));
            outcomes.push(outcome);
        }
    }
    bar.finish_and_clear();
    outcomes.sort_by_key(|o| o.line);
    for o in &outcomes {
        let record = json!({"line": o.line, "errcode": o.code, "errmsg": o.errmsg, "rid": o.rid});
        writeln!(rejects_file, "{record}")
            .map_err(|e| Failure::Other(format!("writing {rejects_path}: {e}")))?;
    }

    let total: usize = counts.values().sum();
    let accepted = counts.get(&0).copied().unwrap_or_default();
    if json_out {
        let by_errcode: BTreeMap<String, usize> =
            counts.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        println!(
            "{}",
            json!({"total": total, "accepted": accepted, "refused": total - accepted, "by_errcode": by_errcode, "rejects": rejects_path})
        );
    } else {
        println!("{:>10}  {:>8}  meaning", "errcode", "count");
        for (code, count) in &counts {
            println!(
                "{code:>10}  {count:>8}  {}",
                ErrCode(*code).default_message()
            );
        }
        println!(
            "{:>10}  {total:>8}  lines; {accepted} accepted, {} refused (see {rejects_path})",
            "total",
            total - accepted
        );
    }
    if accepted == total {
        Ok(())
    } else {
        Err(Failure::Partial(format!(
            "{} of {total} lines were refused",
            total - accepted
        )))
    }
}
