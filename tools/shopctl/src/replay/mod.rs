//! `shopctl replay` and `shopctl rebuild analytics`: the stack's names and clients around
//! [`shop_core::replay`], which holds the logic (what to send, in which order, the projection
//! and its diff) and its tests.
//!
//! The command line of both is [`cli`] (`shopctl`'s `main` hands it the arguments).
//!
//! The names come from the stack outputs: the audit table (`AuditTableName`), the analytics
//! table (`AnalyticsTableName`) and each subscribed consumer's queue (the `…QueueUrl` output of
//! [`shop_core::replay::SUBSCRIBERS`]).

use std::collections::HashMap;

pub mod cli;

use lambda_kit::messaging::{RetryPolicy, SqsBatchQueue};
use shop_core::replay::rebuild::{RebuildReport, derived_table_name, rebuild};
use shop_core::replay::{
    DynamoAnalyticsTables, DynamoEventLog, EventLog as _, ReplayError, ReplayPlan, ReplayReport,
    ReplayRequest, SUBSCRIBERS, Window, plan, replay,
};

/// What replay and rebuild read and write, named by the stack's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The audit table: the event store.
    pub audit_table: String,
    /// The live analytics table.
    pub analytics_table: String,
    /// Each subscribed consumer's queue URL, by consumer name.
    pub queues: HashMap<&'static str, String>,
}

impl Targets {
    /// From the stack outputs (`.local/stack-outputs.json` or CloudFormation's).
    pub fn from_outputs(outputs: &HashMap<String, String>) -> Result<Self, ReplayError> {
        let get = |key: &str| {
            outputs
                .get(key)
                .cloned()
                .ok_or_else(|| ReplayError::MissingOutput(key.to_owned()))
        };
        Ok(Self {
            audit_table: get("AuditTableName")?,
            analytics_table: get("AnalyticsTableName")?,
            queues: SUBSCRIBERS
                .iter()
                .filter_map(|s| Some((s.name, outputs.get(s.queue_output)?.clone())))
                .collect(),
        })
    }

    /// The queue of `consumer`.
    pub fn queue(&self, consumer: &str) -> Result<&str, ReplayError> {
        let output = shop_core::replay::subscriber(consumer)?.queue_output;
        self.queues
            .get(consumer)
            .map(String::as_str)
            .ok_or_else(|| ReplayError::MissingOutput(output.to_owned()))
    }
}

/// The dry run: what a replay of `request` would send, read from the audit table as of `now`
/// (epoch seconds). Sends nothing.
pub async fn plan_replay(
    dynamodb: &aws_sdk_dynamodb::Client,
    targets: &Targets,
    request: &ReplayRequest,
    now: i64,
) -> Result<ReplayPlan, ReplayError> {
    targets.queue(request.consumer.name)?;
    let stored = DynamoEventLog::new(dynamodb.clone(), &targets.audit_table)
        .read_all()
        .await?;
    Ok(plan(request, stored, now))
}

/// Sends `plan`'s events to its consumer's queue (batches of 10, failed entries retried).
pub async fn send_replay(
    sqs: &aws_sdk_sqs::Client,
    targets: &Targets,
    plan: &ReplayPlan,
) -> Result<ReplayReport, ReplayError> {
    let queue = SqsBatchQueue::new(sqs.clone(), targets.queue(plan.consumer)?);
    Ok(replay(plan, &queue, RetryPolicy::default()).await)
}

/// Rebuilds the analytics projection from the audit table into `table` (created; default
/// `<live table>-rebuild-<time>`) and compares it with the live table over the days `window`
/// covers (`None`: every day).
pub async fn rebuild_analytics(
    dynamodb: &aws_sdk_dynamodb::Client,
    targets: &Targets,
    table: Option<String>,
    window: Option<Window>,
    now: i64,
) -> Result<RebuildReport, ReplayError> {
    let stored = DynamoEventLog::new(dynamodb.clone(), &targets.audit_table)
        .read_all()
        .await?;
    let table = table.unwrap_or_else(|| derived_table_name(&targets.analytics_table, now));
    rebuild(
        &DynamoAnalyticsTables::new(dynamodb.clone()),
        stored,
        &targets.analytics_table,
        &table,
        window,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_from_the_outputs() {
        let mut outputs: HashMap<String, String> = [
            ("AuditTableName", "audit"),
            ("AnalyticsTableName", "analytics"),
            ("AnalyticsQueueUrl", "http://q/analytics"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let targets = Targets::from_outputs(&outputs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(targets.queue("analytics").ok(), Some("http://q/analytics"));
        assert!(matches!(
            targets.queue("notifier"),
            Err(ReplayError::MissingOutput(o)) if o == "NotifierQueueUrl"
        ));
        assert!(matches!(
            targets.queue("ledger"),
            Err(ReplayError::UnknownConsumer { .. })
        ));
        outputs.remove("AuditTableName");
        assert!(matches!(
            Targets::from_outputs(&outputs),
            Err(ReplayError::MissingOutput(o)) if o == "AuditTableName"
        ));
    }
}
