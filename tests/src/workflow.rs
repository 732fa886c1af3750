//! An order's workflow runs and what they show, by order id: [`Stack::checkout_events`] (every
//! run of the checkout, in order), [`Stack::runs_of`], [`Stack::states_entered`],
//! [`Stack::task_failures`], [`Stack::failures_of`]; the cancellation's runs:
//! [`Stack::cancel_events`]; one Express run, waited for: [`Stack::wait_run_finished`].
//!
//! An order's checkout is split over runs of two kinds (`statemachines/README.md`):
//!
//! | run | machine | read from |
//! |---|---|---|
//! | `<orderId>` | checkout (Express), started by checkout-api | its log group (`CheckoutLogGroupName`) |
//! | `approval-<orderId>` | approval (Standard), only for an order that needed approval | `GetExecutionHistory` |
//! | `resume-<orderId>` | checkout (Express), started by the approval run after the decision | the checkout log group |
//! | `cancel-<orderId>`, `cancel-<orderId>-<n>` | cancel-order (Express) | its log group (`CancelOrderLogGroupName`) |
//!
//! Express runs have no history API (`DescribeExecution`/`GetExecutionHistory` reject their
//! ARNs, on AWS and on LocalStack): their machines log every event with its data (`Level: ALL`,
//! `IncludeExecutionData: true`), one JSON object per log event, which
//! [`RunEvent::from_log_message`] reads. Those events reach CloudWatch a little after they
//! happen, so a run is read once its end event is there ([`Stack::wait_run_finished`]).

use std::time::Duration;

pub use shopctl::trace::RunEvent;
use shopctl::trace::{express_runs, is_cancel_run, standard_run};

use crate::{Stack, now_epoch_millis};

/// How long an Express run's end event may take to be logged after it is asked for: the
/// run may still be finishing (a test often reads it as soon as the order's status settles:
/// the run writes that status before its last states), and the logs trail the run.
const RUN_END_WAIT: Duration = Duration::from_secs(60);
/// How often the log group is read again while waiting.
const RUN_POLL: Duration = Duration::from_millis(500);
/// How long before the order's creation its runs' log events are looked for.
const SINCE_SLACK_MS: i64 = 10_000;

impl Stack {
    /// Every event of every run of an order's checkout, run after run: `<orderId>` (and any
    /// duplicate run of that name: Express starts are at least once), `approval-<orderId>` if
    /// the order needed approval, then `resume-<orderId>` if the approval run started it.
    /// Waits (bounded, panicking with what it saw) for the Express runs' end events; the
    /// approval run is read as it is now (it may still wait for a decision).
    pub async fn checkout_events(&self, order_id: &str) -> Vec<RunEvent> {
        let since = self.runs_since(order_id).await;
        let group = self.checkout_log_group();
        let mut events = self.wait_run_finished(&group, order_id, since).await;
        let approval = match self.approval_state_machine_arn() {
            Some(machine) => {
                let arn = lambda_kit::workflow::execution_arn_of(
                    machine,
                    &format!("approval-{order_id}"),
                );
                standard_run(self.sfn(), &arn)
                    .await
                    .unwrap_or_else(|e| panic!("read the history of {arn}: {e}"))
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        // The approval run starts the resumption once decided (its `Resume` task); a run of
        // that name already logged counts too (started by someone else: still the order's).
        let resume_started = approval.iter().any(|e| {
            e.kind == "TaskSucceeded"
                && e.resource
                    .as_deref()
                    .is_some_and(|r| r.starts_with("states:startExecution"))
        });
        events.extend(approval);
        let resume = format!("resume-{order_id}");
        if resume_started || !self.express_events(&group, &resume, since).await.is_empty() {
            events.extend(self.wait_run_finished(&group, &resume, since).await);
        }
        events
    }

    /// The names of the order's checkout runs found, in the order of
    /// [`Stack::checkout_events`] (a name once, even if two runs share it).
    pub async fn runs_of(&self, order_id: &str) -> Vec<String> {
        let mut runs: Vec<String> = Vec::new();
        for event in self.checkout_events(order_id).await {
            if !runs.contains(&event.run) {
                runs.push(event.run);
            }
        }
        runs
    }

    /// Every event of the order's cancel-order runs (`cancel-<orderId>`, then
    /// `cancel-<orderId>-<n>`), run after run, each waited for until it ended; none if no
    /// cancellation run has logged anything yet (wrap in [`crate::eventually`] to wait for one).
    pub async fn cancel_events(&self, order_id: &str) -> Vec<RunEvent> {
        let since = self.runs_since(order_id).await;
        let group = self.cancel_order_log_group();
        let cancel = format!(":cancel-{order_id}");
        let found = express_runs(self.logs(), &group, &cancel, since, |run| {
            is_cancel_run(run, order_id)
        })
        .await
        .unwrap_or_else(|e| panic!("read the log group {group}: {e}"));
        let mut names: Vec<String> = Vec::new();
        for run in found.iter().filter_map(|events| events.first()) {
            if !names.contains(&run.run) {
                names.push(run.run.clone());
            }
        }
        let mut events = Vec::new();
        for name in names {
            events.extend(self.wait_run_finished(&group, &name, since).await);
        }
        events
    }

    /// The events of the Express runs named `execution_name` in `log_group` (normally one;
    /// more if the name was started twice), each run's in id order, once every such run has
    /// logged its end (`ExecutionSucceeded`, `ExecutionFailed`, `ExecutionTimedOut`,
    /// `ExecutionAborted`). Only events since `since_ms` (epoch ms) are read. Panics, saying
    /// what it saw, if no run of that name ended within a minute.
    pub async fn wait_run_finished(
        &self,
        log_group: &str,
        execution_name: &str,
        since_ms: i64,
    ) -> Vec<RunEvent> {
        let deadline = std::time::Instant::now() + RUN_END_WAIT;
        loop {
            let term = format!(":{execution_name}:");
            let runs = express_runs(self.logs(), log_group, &term, since_ms, |run| {
                run == execution_name
            })
            .await
            .unwrap_or_else(|e| panic!("read the log group {log_group}: {e}"));
            let ended =
                !runs.is_empty() && runs.iter().all(|run| run.iter().any(RunEvent::is_run_end));
            if ended {
                return runs.into_iter().flatten().collect();
            }
            if std::time::Instant::now() >= deadline {
                let seen: Vec<Vec<&str>> = runs
                    .iter()
                    .map(|run| run.iter().map(|e| e.kind.as_str()).collect())
                    .collect();
                panic!(
                    "the Express run {execution_name} has not logged its end to {log_group} after \
                     {RUN_END_WAIT:?} (events since {since_ms}, per run of that name: {seen:?}); \
                     is the machine deployed with logging Level ALL to that group?"
                );
            }
            tokio::time::sleep(RUN_POLL).await;
        }
    }

    /// Failed task attempts in the order's checkout runs, in order: (state, error name). A
    /// failure belongs to the state its run entered last before it (tasks outside Maps run
    /// one at a time).
    pub async fn task_failures(&self, order_id: &str) -> Vec<(String, String)> {
        failures(&self.checkout_events(order_id).await)
    }

    /// The error names of the failed attempts of one state, over the order's checkout runs.
    pub async fn failures_of(&self, order_id: &str, state: &str) -> Vec<String> {
        self.task_failures(order_id)
            .await
            .into_iter()
            .filter(|(s, _)| s == state)
            .map(|(_, e)| e)
            .collect()
    }

    /// The states the order's checkout runs entered, run after run, each in order.
    pub async fn states_entered(&self, order_id: &str) -> Vec<String> {
        self.checkout_events(order_id)
            .await
            .into_iter()
            .filter(RunEvent::is_state_entered)
            .filter_map(|e| e.state)
            .collect()
    }

    /// The events logged so far by the Express runs named `name` (no waiting).
    async fn express_events(&self, group: &str, name: &str, since_ms: i64) -> Vec<RunEvent> {
        express_runs(self.logs(), group, &format!(":{name}:"), since_ms, |run| {
            run == name
        })
        .await
        .unwrap_or_else(|e| panic!("read the log group {group}: {e}"))
        .into_iter()
        .flatten()
        .collect()
    }

    /// Where to start reading an order's run logs: a little before the order was created
    /// (its `created_at`, epoch ms), else an hour back.
    async fn runs_since(&self, order_id: &str) -> i64 {
        let created_at = self
            .order_item(order_id)
            .await
            .and_then(|item| item.get("created_at")?.as_n().ok()?.parse::<i64>().ok())
            // Milliseconds; a value in seconds (before 1973 in ms) is taken as seconds.
            .map(|t| if t < 100_000_000_000 { t * 1000 } else { t });
        match created_at {
            Some(t) => t - SINCE_SLACK_MS,
            None => now_epoch_millis() - 3_600_000,
        }
    }
}

/// (state, error) of every failed task attempt, the state being the one its run entered last.
fn failures(events: &[RunEvent]) -> Vec<(String, String)> {
    let mut run = "";
    let mut state = String::new();
    let mut found = Vec::new();
    for event in events {
        if event.execution_arn != run {
            run = &event.execution_arn;
            state.clear();
        }
        if event.is_state_entered() {
            state = event.state.clone().unwrap_or_default();
        }
        if matches!(event.kind.as_str(), "TaskFailed" | "LambdaFunctionFailed")
            && let Some(error) = &event.error
        {
            found.push((state.clone(), error.clone()));
        }
    }
    found
}
