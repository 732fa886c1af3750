//! The functions' CloudWatch logs (JSON lines from `lambda_kit::telemetry`), read back to count
//! what happened: faults injected, records retried, refunds owed and repaid.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Stack;

/// One JSON log line and when CloudWatch received it.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Epoch milliseconds.
    pub at_ms: i64,
    /// The line's fields (`message`, `order_id`, …).
    pub fields: Value,
}

impl Stack {
    /// The JSON log lines of `function` (its full name) written since `since_ms` (epoch ms)
    /// whose `message` contains `phrase`. Non-JSON lines (START, REPORT) are skipped.
    pub async fn log_lines(&self, function: &str, phrase: &str, since_ms: i64) -> Vec<LogLine> {
        let mut lines = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .logs()
                .filter_log_events()
                .log_group_name(format!("/aws/lambda/{function}"))
                .start_time(since_ms)
                .filter_pattern(format!("\"{phrase}\""))
                .set_next_token(next.take())
                .send()
                .await;
            let Ok(page) = page else {
                // No log group yet: the function never ran.
                return lines;
            };
            for event in page.events() {
                let Some(Ok(fields)) = event.message().map(serde_json::from_str::<Value>) else {
                    continue;
                };
                if fields["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(phrase))
                {
                    lines.push(LogLine {
                        at_ms: event.timestamp().unwrap_or_default(),
                        fields,
                    });
                }
            }
            match page.next_token() {
                Some(token) if !page.events().is_empty() => next = Some(token.to_owned()),
                _ => return lines,
            }
        }
    }

    /// How many log lines of each function in `functions` (short names, e.g. `notifier`)
    /// contain `phrase`, since `since_ms`.
    pub async fn count_log_lines(
        &self,
        functions: &[&str],
        phrase: &str,
        since_ms: i64,
    ) -> BTreeMap<String, usize> {
        let stack_name = self.output("StackName");
        let mut counts = BTreeMap::new();
        for function in functions {
            let lines = self
                .log_lines(&format!("{stack_name}-{function}"), phrase, since_ms)
                .await;
            if !lines.is_empty() {
                counts.insert((*function).to_owned(), lines.len());
            }
        }
        counts
    }
}
