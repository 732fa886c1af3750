//! `shopctl trace --order <id>`: one order's journey, in time order, from everything the stack
//! keeps about it. This is how a developer follows a request where X-Ray is not available.
//!
//! | source | what it gives | found by |
//! | --- | --- | --- |
//! | orders table | the order: created, its status now | `GetItem` on the order id (absent: [`TraceError::UnknownOrder`]) |
//! | CloudWatch Logs | the API request, each workflow step's Lambda, each consumer that processed an event | every function's log group, lines with the order's correlation id or its id |
//! | Step Functions | every state each run of the order entered, failures, the end | the Express runs (`<orderId>`, `resume-<orderId>`, `cancel-<orderId>[-<n>]`) from their CloudWatch log groups ([`express_runs`]), the Standard `approval-<orderId>` from its history ([`standard_run`]) |
//! | audit table | every event published about the order (`OrderPlaced`, `OrderShipped`, …) | a `Scan` on the correlation id or the order id in the envelope |
//! | ledger table | the charge and refund entries | `Query` on the order id |
//! | notifications table | the customer messages | `Query` on the customer's e-mail, the order's events only |
//!
//! What could not be read or found is listed in [`Journey::missing`]: the trace never
//! silently shows less. The audit `Scan` reads the whole table: fine for a developer's stack,
//! a cost to keep in mind on a big one.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

/// Why a trace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// No order with this id in the orders table.
    #[error("no order {0} in the orders table: check the id (and the stack: local or TARGET=aws)")]
    UnknownOrder(String),
    /// The stack outputs lack a name the trace needs.
    #[error("the stack outputs have no {0}: is this the shop's stack?")]
    MissingOutput(&'static str),
    /// The orders table could not be read (nothing can be traced without it).
    #[error("cannot read the orders table: {0}")]
    Orders(String),
}

/// What the trace reads, named by the stack's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The orders table.
    pub orders_table: String,
    /// The ledger table.
    pub ledger_table: String,
    /// The audit table (every event).
    pub audit_table: String,
    /// The notifications table.
    pub notifications_table: String,
    /// The checkout state machine (Express; its runs are named `<orderId>` and, after an
    /// approval, `resume-<orderId>`).
    pub checkout_state_machine_arn: String,
    /// The checkout machine's log group (`CheckoutLogGroupName`, else
    /// `/aws/vendedlogs/states/<machine name>`): Express runs have no history API.
    pub checkout_log_group: String,
    /// The approval state machine (Standard; runs named `approval-<orderId>`), if deployed.
    pub approval_state_machine_arn: Option<String>,
    /// The cancel-order machine's log group (Express; runs `cancel-<orderId>[-<n>]`), if deployed.
    pub cancel_order_log_group: Option<String>,
    /// Every function's name (its log group is `/aws/lambda/<name>`), sorted.
    pub functions: Vec<String>,
}

impl Targets {
    /// From the stack outputs (`.local/stack-outputs.json` or CloudFormation's): the tables,
    /// the state machine and every `…FunctionName` output.
    pub fn from_outputs(outputs: &HashMap<String, String>) -> Result<Self, TraceError> {
        let get = |key: &'static str| {
            outputs
                .get(key)
                .cloned()
                .ok_or(TraceError::MissingOutput(key))
        };
        let mut functions: Vec<String> = outputs
            .iter()
            .filter(|(key, _)| key.ends_with("FunctionName"))
            .map(|(_, name)| name.clone())
            .collect();
        functions.sort();
        let checkout_state_machine_arn = get("CheckoutStateMachineArn")?;
        // The stack's log group outputs, else the name the template gives them.
        let log_group = |output: &str, machine_arn: &str| {
            outputs
                .get(output)
                .cloned()
                .unwrap_or_else(|| vended_log_group(machine_arn))
        };
        Ok(Self {
            orders_table: get("OrdersTableName")?,
            ledger_table: get("LedgerTableName")?,
            audit_table: get("AuditTableName")?,
            notifications_table: get("NotificationsTableName")?,
            checkout_log_group: log_group("CheckoutLogGroupName", &checkout_state_machine_arn),
            checkout_state_machine_arn,
            approval_state_machine_arn: outputs.get("ApprovalStateMachineArn").cloned(),
            cancel_order_log_group: outputs
                .get("CancelOrderStateMachineArn")
                .map(|arn| log_group("CancelOrderLogGroupName", arn)),
            functions,
        })
    }
}

/// `/aws/vendedlogs/states/<machine name>`: where the template sends a machine's run logs.
fn vended_log_group(state_machine_arn: &str) -> String {
    let name = state_machine_arn
        .rsplit(':')
        .next()
        .unwrap_or(state_machine_arn);
    format!("/aws/vendedlogs/states/{name}")
}

/// The SDK clients the trace reads with.
#[derive(Debug, Clone)]
pub struct Clients {
    /// DynamoDB (the tables).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// CloudWatch Logs (the functions' lines).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Step Functions (the approval run's history).
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    /// Clients from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            sfn: aws_sdk_sfn::Client::new(config),
        }
    }
}

/// What a step of the journey is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The order record (created; its status now).
    Order,
    /// An API request that carried the order's correlation id.
    Api,
    /// A state of one of the order's workflow runs (entered, failed, the end).
    Workflow,
    /// A workflow step's Lambda (pricing, payment) ran for the order.
    Step,
    /// An event was published (from the audit table: what was on the bus).
    Published,
    /// A consumer processed (or failed) one of the order's events.
    Consumed,
    /// A ledger entry.
    Ledger,
    /// A customer message recorded.
    Notification,
    /// Any other log line worth seeing (warnings, errors).
    Log,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Api => "api",
            Self::Workflow => "workflow",
            Self::Step => "step",
            Self::Published => "published",
            Self::Consumed => "consumed",
            Self::Ledger => "ledger",
            Self::Notification => "notification",
            Self::Log => "log",
        }
    }
}

/// One step of the journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When, epoch milliseconds.
    pub at_ms: i64,
    /// What it is.
    pub kind: Kind,
    /// Who: a function, the state machine, a table.
    pub source: String,
    /// The event type, for published and consumed events.
    pub event_type: Option<String>,
    /// The state's name, for workflow entries.
    pub state: Option<String>,
    /// A one-line description.
    pub text: String,
}

/// One order's journey: its entries in time order and what could not be found.
#[derive(Debug, Clone, Default)]
pub struct Journey {
    /// The order.
    pub order_id: String,
    /// Its correlation id (from the order record).
    pub correlation_id: String,
    /// The entries, in time order.
    pub entries: Vec<Entry>,
    /// What could not be read or found, one sentence each.
    pub missing: Vec<String>,
}

impl fmt::Display for Journey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "order {} (correlation id {})",
            self.order_id, self.correlation_id
        )?;
        let start = self.entries.first().map_or(0, |e| e.at_ms);
        for entry in &self.entries {
            writeln!(
                f,
                "{} {:>+9.3}s  {:<12} {:<28} {}",
                rfc3339(entry.at_ms),
                (entry.at_ms - start) as f64 / 1000.0,
                entry.kind.label(),
                entry.source,
                entry.text
            )?;
        }
        if self.missing.is_empty() {
            writeln!(f, "nothing missing: every source was read")?;
        } else {
            for missing in &self.missing {
                writeln!(f, "not found: {missing}")?;
            }
        }
        Ok(())
    }
}

/// `2026-01-02T03:04:05.678Z`: always milliseconds, so the columns line up.
fn rfc3339(at_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).map_or_else(
        |_| at_ms.to_string(),
        |t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            )
        },
    )
}

fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Traces `order_id`: reads every source (module doc), sorts what it found by time.
pub async fn trace(
    clients: &Clients,
    targets: &Targets,
    order_id: &str,
) -> Result<Journey, TraceError> {
    let order = clients
        .dynamodb
        .get_item()
        .table_name(&targets.orders_table)
        .key("order_id", AttributeValue::S(order_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| {
            TraceError::Orders(format!(
                "{}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            ))
        })?
        .item
        .ok_or_else(|| TraceError::UnknownOrder(order_id.to_owned()))?;
    let mut journey = Journey {
        order_id: order_id.to_owned(),
        correlation_id: text(&order, "correlation_id"),
        ..Journey::default()
    };
    journey
        .entries
        .extend(order_entries(&targets.orders_table, &order));
    let created_at = number(&order, "created_at").unwrap_or(0);
    let email = text(&order, "email");

    workflow(clients, targets, created_at, &mut journey).await;
    logs(clients, targets, created_at, &mut journey).await;
    let event_ids = audit(clients, targets, &mut journey).await;
    ledger(clients, targets, &mut journey).await;
    notifications(clients, targets, &email, &event_ids, &mut journey).await;

    // Stable: entries with the same millisecond keep the order they were found in.
    journey.entries.sort_by_key(|e| e.at_ms);
    Ok(journey)
}

type Item = HashMap<String, AttributeValue>;

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

/// A time attribute in epoch milliseconds: the orders table keeps milliseconds, the ledger,
/// notifications and audit tables seconds (anything below 10^11 is taken as seconds: that
/// is 1973 in milliseconds).
fn epoch_ms(item: &Item, name: &str) -> Option<i64> {
    number(item, name).map(|t| if t < 100_000_000_000 { t * 1000 } else { t })
}

fn order_entries(table: &str, order: &Item) -> Vec<Entry> {
    let mut entries = Vec::new();
    let total = match (number(order, "total_minor"), text(order, "currency")) {
        (Some(amount), currency) if !currency.is_empty() => format!(" total {amount} {currency}"),
        _ => String::new(),
    };
    if let Some(created_at) = epoch_ms(order, "created_at") {
        entries.push(Entry {
            at_ms: created_at,
            kind: Kind::Order,
            source: table.to_owned(),
            event_type: None,
            state: None,
            text: format!("order created for user {}", text(order, "user_id")),
        });
    }
    if let Some(updated_at) = epoch_ms(order, "updated_at") {
        let reason = match text(order, "failure_reason") {
            r if r.is_empty() => String::new(),
            r => format!(" ({r})"),
        };
        entries.push(Entry {
            at_ms: updated_at,
            kind: Kind::Order,
            source: table.to_owned(),
            event_type: None,
            state: None,
            text: format!(
                "order last changed: now {}{reason}{total}",
                text(order, "status")
            ),
        });
    }
    entries
}

/// The runs of the order, each in its own order: the checkout run (`<orderId>`), the approval
/// (`approval-<orderId>`) and the checkout's resumption (`resume-<orderId>`) if it needed one,
/// any cancellation (`cancel-<orderId>[-<n>]`): every state entered, failures, each run's end.
/// What could not be read, and a run seen without its end, go to [`Journey::missing`].
async fn workflow(clients: &Clients, targets: &Targets, created_at: i64, journey: &mut Journey) {
    let order_id = journey.order_id.clone();
    let since = created_at.saturating_sub(RUN_LOG_SLACK_MS).max(0);
    let mut runs: Vec<Vec<RunEvent>> = Vec::new();
    let group = &targets.checkout_log_group;
    // The checkout runs `<orderId>` and `resume-<orderId>`, in one read of the group.
    let resume = format!("resume-{order_id}");
    match express_runs(&clients.logs, group, &order_id, since, |run| {
        run == order_id || run == resume
    })
    .await
    {
        Ok(found) => {
            if !found.iter().flatten().any(|e| e.run == order_id) {
                journey.missing.push(format!(
                    "no log event of the checkout run {order_id} in {group} (not started, or not delivered yet)"
                ));
            }
            runs.extend(found);
        }
        Err(err) => journey
            .missing
            .push(format!("log group {group} could not be read ({err})")),
    }
    if let Some(machine) = &targets.approval_state_machine_arn {
        let arn = lambda_kit::workflow::execution_arn_of(machine, &format!("approval-{order_id}"));
        match standard_run(&clients.sfn, &arn).await {
            Ok(Some(events)) => runs.push(events),
            Ok(None) => {}
            Err(err) => journey.missing.push(format!(
                "the approval run's history ({arn}) could not be read: {err}"
            )),
        }
    }
    if let Some(group) = &targets.cancel_order_log_group {
        let cancel = format!(":cancel-{order_id}");
        match express_runs(&clients.logs, group, &cancel, since, |run| {
            is_cancel_run(run, &order_id)
        })
        .await
        {
            Ok(found) => runs.extend(found),
            Err(err) => journey
                .missing
                .push(format!("log group {group} could not be read ({err})")),
        }
    }
    for run in &runs {
        run_entries(run, &order_id, journey);
    }
}

/// The entries of one run: its start and end, every state entered, every failed attempt.
fn run_entries(run: &[RunEvent], order_id: &str, journey: &mut Journey) {
    let Some(first) = run.first() else {
        return;
    };
    let machine = machine_name_of(&first.execution_arn)
        .unwrap_or("workflow")
        .to_owned();
    // The order's own checkout run is "the execution"; the others say which run they are.
    let label = if first.run == order_id {
        String::new()
    } else {
        format!(" ({})", first.run)
    };
    let reason = |event: &RunEvent| {
        format!(
            "{} {}",
            event.error.as_deref().unwrap_or_default(),
            event.cause.as_deref().unwrap_or_default()
        )
    };
    for event in run {
        let (state, text) = match event.kind.as_str() {
            "ExecutionStarted" => (None, format!("execution started{label}")),
            "ExecutionSucceeded" => (None, format!("execution succeeded{label}")),
            "ExecutionFailed" => (None, format!("execution failed{label}: {}", reason(event))),
            "ExecutionTimedOut" => (None, format!("execution timed out{label}")),
            "ExecutionAborted" => (None, format!("execution aborted{label}")),
            "TaskFailed" => (None, format!("task failed: {}", reason(event))),
            "LambdaFunctionFailed" => (None, format!("Lambda task failed: {}", reason(event))),
            _ if event.is_state_entered() => match &event.state {
                Some(name) => (Some(name.clone()), format!("entered {name}")),
                None => continue,
            },
            _ => continue,
        };
        journey.entries.push(Entry {
            at_ms: event.at_ms,
            kind: Kind::Workflow,
            source: machine.clone(),
            event_type: None,
            state,
            text,
        });
    }
    if !run.iter().any(RunEvent::is_run_end) {
        journey.missing.push(format!(
            "the end of run {} of {machine} (still running, or its last events not delivered yet)",
            first.run
        ));
    }
}

/// How long before the order's creation its runs' log events are looked for (clock skew
/// between the API's function and Step Functions).
const RUN_LOG_SLACK_MS: i64 = 60_000;

/// The history event types that end a run.
const RUN_ENDS: [&str; 4] = [
    "ExecutionSucceeded",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionAborted",
];

/// One event of a workflow run of an order: from a Standard execution's history
/// ([`standard_run`]) or from an Express run's CloudWatch log ([`express_runs`]; Express runs
/// have no history API, so their machines log every event with its data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    /// The run's execution name (`<orderId>`, `approval-<orderId>`, `resume-<orderId>`, …).
    pub run: String,
    /// The run's ARN (an Express run's ends with a UUID: two runs can share a name).
    pub execution_arn: String,
    /// The event's id in its run (1: `ExecutionStarted`).
    pub id: i64,
    /// When, epoch milliseconds.
    pub at_ms: i64,
    /// The history event type (`TaskStateEntered`, `TaskFailed`, `ExecutionSucceeded`, …).
    pub kind: String,
    /// The state's name, on `*StateEntered` and `*StateExited` events.
    pub state: Option<String>,
    /// The error, on failures (`TaskFailed`, `LambdaFunctionFailed`, `ExecutionFailed`, …).
    pub error: Option<String>,
    /// The cause, on failures.
    pub cause: Option<String>,
    /// The state's output (JSON text), on `*StateExited` events (the machines log their data).
    pub output: Option<String>,
    /// `<resourceType>:<resource>` of a task (`dynamodb:getItem`, `states:startExecution`…),
    /// on `Task*` events.
    pub resource: Option<String>,
}

impl RunEvent {
    /// Whether the event enters a state (`TaskStateEntered`, `ChoiceStateEntered`, …).
    pub fn is_state_entered(&self) -> bool {
        self.kind.ends_with("StateEntered")
    }

    /// Whether the event ends its run (succeeded, failed, timed out or aborted).
    pub fn is_run_end(&self) -> bool {
        RUN_ENDS.contains(&self.kind.as_str())
    }

    /// The event an Express run logged: `message` is the JSON object Step Functions writes
    /// (`id`, `previous_event_id`, `event_timestamp`, `type`, `execution_arn`, `details`), the
    /// same on AWS and LocalStack but for `event_timestamp`: epoch milliseconds (a string) on
    /// AWS, RFC 3339 (`2026-01-02T03:04:05.678901+00:00`) on LocalStack; `logged_at_ms`
    /// (CloudWatch's time of the event) stands in if it is neither. `None` for anything else.
    pub fn from_log_message(message: &str, logged_at_ms: i64) -> Option<Self> {
        let fields: Value = serde_json::from_str(message.trim()).ok()?;
        let execution_arn = fields.get("execution_arn")?.as_str()?.to_owned();
        let run = execution_name_of(&execution_arn)?.to_owned();
        let kind = fields.get("type")?.as_str()?.to_owned();
        let id = match fields.get("id") {
            Some(Value::String(id)) => id.parse().ok()?,
            Some(Value::Number(id)) => id.as_i64()?,
            _ => return None,
        };
        let at_ms = match fields.get("event_timestamp") {
            Some(Value::Number(ms)) => ms.as_i64(),
            Some(Value::String(text)) => text.parse().ok().or_else(|| parse_rfc3339_ms(text)),
            _ => None,
        }
        .unwrap_or(logged_at_ms);
        let details = fields.get("details").unwrap_or(&Value::Null);
        let detail = |name: &str| match details.get(name) {
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let state_event = kind.ends_with("StateEntered") || kind.ends_with("StateExited");
        let resource = match (detail("resourceType"), detail("resource")) {
            (Some(kind), Some(resource)) => Some(format!("{kind}:{resource}")),
            _ => None,
        };
        Some(Self {
            run,
            execution_arn,
            id,
            at_ms,
            state: if state_event { detail("name") } else { None },
            error: detail("error"),
            cause: detail("cause"),
            output: if kind.ends_with("StateExited") {
                detail("output")
            } else {
                None
            },
            resource,
            kind,
        })
    }

    /// An event of a Standard execution's history.
    pub fn from_history(execution_arn: &str, event: &aws_sdk_sfn::types::HistoryEvent) -> Self {
        let failure = failure_of(event);
        let entered = event.state_entered_event_details();
        let exited = event.state_exited_event_details();
        let resource = event
            .task_scheduled_event_details()
            .map(|d| (d.resource_type(), d.resource()))
            .or_else(|| {
                event
                    .task_succeeded_event_details()
                    .map(|d| (d.resource_type(), d.resource()))
            })
            .or_else(|| {
                event
                    .task_failed_event_details()
                    .map(|d| (d.resource_type(), d.resource()))
            })
            .map(|(kind, resource)| format!("{kind}:{resource}"));
        Self {
            run: execution_name_of(execution_arn)
                .unwrap_or(execution_arn)
                .to_owned(),
            execution_arn: execution_arn.to_owned(),
            id: event.id(),
            at_ms: event.timestamp().to_millis().unwrap_or(0),
            kind: event.r#type().as_str().to_owned(),
            state: entered
                .map(|d| d.name().to_owned())
                .or_else(|| exited.map(|d| d.name().to_owned())),
            error: failure.0.map(str::to_owned),
            cause: failure.1.map(str::to_owned),
            output: exited.and_then(|d| d.output()).map(str::to_owned),
            resource,
        }
    }
}

/// (error, cause) of a history event that reports a failure.
fn failure_of(event: &aws_sdk_sfn::types::HistoryEvent) -> (Option<&str>, Option<&str>) {
    macro_rules! first_of {
        ($($details:ident),* $(,)?) => {
            $(if let Some(d) = event.$details() {
                return (d.error(), d.cause());
            })*
        };
    }
    first_of!(
        task_failed_event_details,
        task_timed_out_event_details,
        task_start_failed_event_details,
        task_submit_failed_event_details,
        lambda_function_failed_event_details,
        lambda_function_timed_out_event_details,
        lambda_function_start_failed_event_details,
        lambda_function_schedule_failed_event_details,
        activity_failed_event_details,
        activity_timed_out_event_details,
        execution_failed_event_details,
        execution_timed_out_event_details,
        execution_aborted_event_details,
        map_run_failed_event_details,
        evaluation_failed_event_details,
    );
    (None, None)
}

/// The execution name in an execution ARN: `arn:…:execution:<machine>:<name>` (Standard) or
/// `arn:…:express:<machine>:<name>:<uuid>` (Express).
pub fn execution_name_of(execution_arn: &str) -> Option<&str> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    match parts.get(5).copied() {
        Some("execution") => parts.get(7).copied(),
        Some("express") => parts.get(7).copied(),
        _ => None,
    }
}

/// The state machine's name in an execution ARN (Standard or Express).
pub fn machine_name_of(execution_arn: &str) -> Option<&str> {
    execution_arn.split(':').nth(6)
}

/// Whether `run` is one of the cancel-order runs of `order_id`: `cancel-<orderId>`, then
/// `cancel-<orderId>-<n>`.
pub fn is_cancel_run(run: &str, order_id: &str) -> bool {
    run.strip_prefix("cancel-")
        .and_then(|rest| rest.strip_prefix(order_id))
        .is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('-')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The Express runs logged to `group` since `since_ms` (epoch ms) whose execution name
/// satisfies `wanted`, each run's events in id order, the runs in the order they started.
/// `term`, a text every wanted event holds (the execution ARN in each event holds
/// `:<name>:`), narrows the read as a quoted filter pattern, which AWS applies and LocalStack
/// ignores (it returns the whole window): every event is checked against `wanted` here. A
/// group that does not exist yet has no runs.
pub async fn express_runs(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    term: &str,
    since_ms: i64,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<Vec<RunEvent>>, String> {
    // ARN → (event id → event): an event read twice is kept once.
    let mut runs: HashMap<String, std::collections::BTreeMap<i64, RunEvent>> = HashMap::new();
    let mut next: Option<String> = None;
    for _page in 0..MAX_LOG_PAGES {
        let sent = next.clone();
        let page = logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(since_ms)
            .filter_pattern(format!("\"{term}\""))
            .set_next_token(next.take())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                {
                    break;
                }
                return Err(aws_sdk_cloudwatchlogs::error::DisplayErrorContext(err).to_string());
            }
        };
        for logged in page.events() {
            let Some(event) = logged.message().and_then(|m| {
                RunEvent::from_log_message(m, logged.timestamp().unwrap_or_default())
            }) else {
                continue;
            };
            if wanted(&event.run) {
                runs.entry(event.execution_arn.clone())
                    .or_default()
                    .insert(event.id, event);
            }
        }
        // A token is followed even past an empty page (AWS pages by time searched); the
        // same token twice would loop.
        match page.next_token() {
            Some(token) if sent.as_deref() != Some(token) => next = Some(token.to_owned()),
            _ => break,
        }
    }
    let mut runs: Vec<Vec<RunEvent>> = runs
        .into_values()
        .map(|events| events.into_values().collect())
        .collect();
    runs.sort_by_key(|run: &Vec<RunEvent>| {
        run.first()
            .map(|e| (e.at_ms, e.execution_arn.clone()))
            .unwrap_or_default()
    });
    Ok(runs)
}

/// Pages of one log search at most (LocalStack returns up to 10,000 events a page).
const MAX_LOG_PAGES: usize = 1_000;

/// A Standard execution's history, in event order; `Ok(None)` when there is no such execution.
pub async fn standard_run(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Option<Vec<RunEvent>>, String> {
    let mut events = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .set_next_token(next.take())
            .max_results(1000)
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist())
                {
                    return Ok(None);
                }
                return Err(aws_sdk_sfn::error::DisplayErrorContext(err).to_string());
            }
        };
        events.extend(
            page.events()
                .iter()
                .map(|e| RunEvent::from_history(execution_arn, e)),
        );
        match page.next_token() {
            Some(token) if !page.events().is_empty() => next = Some(token.to_owned()),
            _ => return Ok(Some(events)),
        }
    }
}

/// Log lines that mark a step of the journey; other INFO lines are detail.
const MILESTONES: &[&str] = &[
    "request completed",
    "checkout accepted",
    "step succeeded",
    "step failed",
    "record processed",
    "record failed",
    "duplicate delivery, already processed",
];

/// Every function's lines about the order, since shortly before it was created: lines with
/// its id or its correlation id; then, in the functions where a line named the order and
/// carried another correlation id (the API request that created, cancelled or decided it:
/// a request has its own), that request's lines too.
async fn logs(clients: &Clients, targets: &Targets, created_at: i64, journey: &mut Journey) {
    let since = created_at.saturating_sub(60_000);
    let mut terms = vec![journey.order_id.clone()];
    if !journey.correlation_id.is_empty() {
        terms.push(journey.correlation_id.clone());
    }
    let mut search = LogSearch {
        clients,
        since,
        seen: BTreeSet::new(),
        requests: BTreeSet::new(),
        unreadable: Vec::new(),
        found: 0,
    };
    for function in &targets.functions {
        search.group(function, &terms, journey).await;
    }
    let requests = std::mem::take(&mut search.requests);
    for (function, correlation_id) in requests {
        search
            .group(&function, std::slice::from_ref(&correlation_id), journey)
            .await;
    }
    for group in search.unreadable {
        journey
            .missing
            .push(format!("log group {group} could not be read"));
    }
    if search.found == 0 {
        journey.missing.push(format!(
            "no function logged a line with the order id or its correlation id in any of {} log groups",
            targets.functions.len()
        ));
    }
}

/// The state of one trace's log search.
struct LogSearch<'c> {
    clients: &'c Clients,
    since: i64,
    /// (function, CloudWatch time, line): a line found by two terms is kept once.
    seen: BTreeSet<(String, i64, String)>,
    /// (function, correlation id) of the requests that named the order.
    requests: BTreeSet<(String, String)>,
    unreadable: Vec<String>,
    found: usize,
}

impl LogSearch<'_> {
    /// The lines of `function` holding one of `terms`. The filter pattern narrows the read on
    /// AWS; LocalStack ignores it and returns every line, so each line is checked here too.
    async fn group(&mut self, function: &str, terms: &[String], journey: &mut Journey) {
        let group = format!("/aws/lambda/{function}");
        for term in terms {
            let mut next: Option<String> = None;
            loop {
                let page = self
                    .clients
                    .logs
                    .filter_log_events()
                    .log_group_name(&group)
                    .start_time(self.since)
                    .filter_pattern(format!("\"{term}\""))
                    .set_next_token(next.take())
                    .send()
                    .await;
                let page = match page {
                    Ok(page) => page,
                    Err(err) => {
                        let err = aws_sdk_cloudwatchlogs::error::DisplayErrorContext(err);
                        // A function that never ran has no group: not an error of the trace.
                        if !err.to_string().contains("ResourceNotFound") {
                            self.unreadable.push(format!("{group} ({err})"));
                        }
                        break;
                    }
                };
                for event in page.events() {
                    let at_ms = event.timestamp().unwrap_or(0);
                    let message = event.message().unwrap_or_default();
                    if !message.contains(term.as_str())
                        || !self
                            .seen
                            .insert((function.to_owned(), at_ms, message.to_owned()))
                    {
                        continue;
                    }
                    if let Some(request) = request_correlation_id(message, journey) {
                        self.requests.insert((function.to_owned(), request));
                    }
                    if let Some(entry) = log_entry(function, at_ms, message) {
                        self.found += 1;
                        journey.entries.push(entry);
                    }
                }
                match page.next_token() {
                    Some(token) if !page.events().is_empty() => next = Some(token.to_owned()),
                    _ => break,
                }
            }
        }
    }
}

/// The correlation id of the request a line was written for, when the line names the order
/// and the request's id is not the order's own.
fn request_correlation_id(message: &str, journey: &Journey) -> Option<String> {
    let fields: Value = serde_json::from_str(message.trim()).ok()?;
    let names_order = fields.get("order_id").and_then(Value::as_str) == Some(&journey.order_id);
    let correlation_id = fields.get("correlation_id").and_then(Value::as_str)?;
    (names_order && fields.get("method").is_some() && correlation_id != journey.correlation_id)
        .then(|| correlation_id.to_owned())
}

/// The entry of one JSON log line (at its `timestamp` field, else `at_ms`: when CloudWatch got
/// it), or `None` for a line that is detail (an INFO line that is not a milestone) or not JSON
/// (START/END/REPORT, EMF documents).
pub fn log_entry(function: &str, at_ms: i64, message: &str) -> Option<Entry> {
    let fields: Value = serde_json::from_str(message.trim()).ok()?;
    let text_of = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
    let msg = text_of("message");
    if msg.is_empty() {
        return None;
    }
    // The line's own time: the local stack ships a function's lines when the invocation ends.
    let at_ms = fields
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ms)
        .unwrap_or(at_ms);
    let level = text_of("level");
    let warn = matches!(level, "WARN" | "ERROR");
    if !warn && !MILESTONES.contains(&msg) {
        return None;
    }
    let event_type = fields
        .get("event_type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let (kind, text) = if fields.get("method").is_some() && fields.get("path").is_some() {
        let status = match fields.get("status") {
            Some(Value::String(status)) => status.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        (
            Kind::Api,
            format!("{} {} {msg} {status}", text_of("method"), text_of("path")),
        )
    } else if let Some(event_type) = &event_type {
        let reason = match text_of("reason") {
            "" => String::new(),
            reason => format!(": {reason}"),
        };
        (
            Kind::Consumed,
            format!("{event_type} {msg}{reason} (event {})", text_of("event_id")),
        )
    } else if fields.get("subject_id").is_some() {
        (Kind::Step, msg.to_owned())
    } else {
        (Kind::Log, format!("{level} {msg}"))
    };
    let kind = if warn && kind != Kind::Consumed && kind != Kind::Api {
        Kind::Log
    } else {
        kind
    };
    Some(Entry {
        at_ms,
        kind,
        source: function.to_owned(),
        event_type,
        state: None,
        text,
    })
}

/// The events about the order the audit log recorded; returns their ids.
async fn audit(clients: &Clients, targets: &Targets, journey: &mut Journey) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut start: Option<Item> = None;
    loop {
        let mut scan = clients
            .dynamodb
            .scan()
            .table_name(&targets.audit_table)
            .filter_expression("contains(envelope, :order)")
            .expression_attribute_values(":order", AttributeValue::S(journey.order_id.clone()))
            .set_exclusive_start_key(start.take());
        if !journey.correlation_id.is_empty() {
            scan = scan
                .filter_expression("contains(envelope, :order) OR correlation_id = :c")
                .expression_attribute_values(
                    ":c",
                    AttributeValue::S(journey.correlation_id.clone()),
                );
        }
        let page = match scan.send().await {
            Ok(page) => page,
            Err(err) => {
                journey.missing.push(format!(
                    "the audit table could not be read: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(err)
                ));
                return ids;
            }
        };
        for item in page.items() {
            let event_type = text(item, "event_type");
            let at_ms = parse_rfc3339_ms(&text(item, "occurred_at"))
                .or_else(|| epoch_ms(item, "recorded_at"))
                .unwrap_or(0);
            ids.insert(text(item, "event_id"));
            journey.entries.push(Entry {
                at_ms,
                kind: Kind::Published,
                source: text(item, "source"),
                event_type: Some(event_type.clone()),
                state: None,
                text: format!("{event_type} published (event {})", text(item, "event_id")),
            });
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    if ids.is_empty() {
        journey.missing.push(
            "no event about this order in the audit table (none published, or audit-log has not caught up)"
                .to_owned(),
        );
    }
    ids
}

/// The order's ledger entries, in their sequence.
async fn ledger(clients: &Clients, targets: &Targets, journey: &mut Journey) {
    let page = clients
        .dynamodb
        .query()
        .table_name(&targets.ledger_table)
        .key_condition_expression("order_id = :o")
        .expression_attribute_values(":o", AttributeValue::S(journey.order_id.clone()))
        .consistent_read(true)
        .send()
        .await;
    let page = match page {
        Ok(page) => page,
        Err(err) => {
            journey.missing.push(format!(
                "the ledger table could not be read: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(err)
            ));
            return;
        }
    };
    for item in page.items() {
        journey.entries.push(Entry {
            at_ms: epoch_ms(item, "recorded_at").unwrap_or(0),
            kind: Kind::Ledger,
            source: "ledger".to_owned(),
            event_type: None,
            state: None,
            text: format!(
                "{} {} {} (seq {}, operation {})",
                text(item, "kind"),
                number(item, "amount_minor").unwrap_or(0),
                text(item, "currency"),
                text(item, "seq"),
                text(item, "operation_id")
            ),
        });
    }
    if page.items().is_empty() {
        journey.missing.push(
            "no ledger entry for this order (nothing charged, or not yet recorded)".to_owned(),
        );
    }
}

/// The messages recorded for the customer about the order's events.
async fn notifications(
    clients: &Clients,
    targets: &Targets,
    email: &str,
    event_ids: &BTreeSet<String>,
    journey: &mut Journey,
) {
    if email.is_empty() {
        journey
            .missing
            .push("the order has no e-mail: notifications not looked up".to_owned());
        return;
    }
    let mut found = 0;
    let mut start: Option<Item> = None;
    loop {
        let page = clients
            .dynamodb
            .query()
            .table_name(&targets.notifications_table)
            .key_condition_expression("recipient = :r")
            .expression_attribute_values(":r", AttributeValue::S(email.to_owned()))
            .set_exclusive_start_key(start.take())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                journey.missing.push(format!(
                    "the notifications table could not be read: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(err)
                ));
                return;
            }
        };
        for item in page.items() {
            let event_id = text(item, "event_id");
            let about_order = event_ids.contains(&event_id)
                || text(item, "message").contains(journey.order_id.as_str());
            if !about_order {
                continue;
            }
            found += 1;
            journey.entries.push(Entry {
                at_ms: epoch_ms(item, "created_at").unwrap_or(0),
                kind: Kind::Notification,
                source: "notifier".to_owned(),
                event_type: None,
                state: None,
                text: format!("{}: {}", text(item, "kind"), text(item, "subject")),
            });
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    if found == 0 {
        journey
            .missing
            .push(format!("no notification to {email} about this order"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_from_the_stack_outputs() {
        let outputs: HashMap<String, String> = [
            ("OrdersTableName", "o"),
            ("LedgerTableName", "l"),
            ("AuditTableName", "a"),
            ("NotificationsTableName", "n"),
            ("CheckoutStateMachineArn", "arn:sm"),
            ("NotifierFunctionName", "shop-notifier"),
            ("CartApiFunctionName", "shop-cart-api"),
            ("ApiBaseUrl", "http://x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let targets = Targets::from_outputs(&outputs).ok();
        assert_eq!(
            targets.as_ref().map(|t| t.functions.clone()),
            Some(vec!["shop-cart-api".to_owned(), "shop-notifier".to_owned()])
        );
        // No log group outputs: the template's names, from the machines' names.
        assert_eq!(
            targets.as_ref().map(|t| t.checkout_log_group.as_str()),
            Some("/aws/vendedlogs/states/sm")
        );
        assert_eq!(
            targets.as_ref().map(|t| t.cancel_order_log_group.is_none()),
            Some(true)
        );
        let mut v2 = outputs.clone();
        for (key, value) in [
            (
                "CheckoutStateMachineArn",
                "arn:aws:states:us-east-1:1:stateMachine:shop-local-checkout",
            ),
            (
                "CancelOrderStateMachineArn",
                "arn:aws:states:us-east-1:1:stateMachine:shop-local-cancel-order",
            ),
            ("CheckoutLogGroupName", "/custom/checkout"),
            (
                "ApprovalStateMachineArn",
                "arn:aws:states:us-east-1:1:stateMachine:shop-local-approval",
            ),
        ] {
            v2.insert(key.to_owned(), value.to_owned());
        }
        let v2 = Targets::from_outputs(&v2).ok();
        assert_eq!(
            v2.as_ref().map(|t| t.checkout_log_group.as_str()),
            Some("/custom/checkout")
        );
        assert_eq!(
            v2.as_ref()
                .and_then(|t| t.cancel_order_log_group.as_deref()),
            Some("/aws/vendedlogs/states/shop-local-cancel-order")
        );
        assert!(v2.is_some_and(|t| t.approval_state_machine_arn.is_some()));
        let mut partial = outputs;
        partial.remove("LedgerTableName");
        assert!(matches!(
            Targets::from_outputs(&partial),
            Err(TraceError::MissingOutput("LedgerTableName"))
        ));
    }

    #[test]
    fn log_lines_become_api_step_and_consumer_entries() {
        let api = r#"{"level":"INFO","function":"checkout-api","correlation_id":"c-1","method":"POST","path":"/checkout","status":202,"duration_ms":40,"message":"request completed"}"#;
        let entry = log_entry("shop-checkout-api", 5, api);
        assert_eq!(entry.as_ref().map(|e| e.kind), Some(Kind::Api));
        assert_eq!(
            entry.map(|e| e.text),
            Some("POST /checkout request completed 202".to_owned())
        );

        let consumed = r#"{"level":"INFO","function":"notifier","consumer":"notifier","event_id":"e-1","event_type":"OrderPlaced","correlation_id":"c-1","message":"record processed"}"#;
        let entry = log_entry("shop-notifier", 6, consumed);
        assert_eq!(entry.as_ref().map(|e| e.kind), Some(Kind::Consumed));
        assert_eq!(
            entry.and_then(|e| e.event_type),
            Some("OrderPlaced".to_owned())
        );

        let step = r#"{"level":"INFO","function":"payment","subject_id":"o-1","correlation_id":"c-1","timestamp":"2023-11-14T22:13:20.5Z","message":"step succeeded"}"#;
        let entry = log_entry("shop-payment", 7, step);
        assert_eq!(entry.as_ref().map(|e| e.kind), Some(Kind::Step));
        assert_eq!(entry.map(|e| e.at_ms), Some(1_700_000_000_500));

        let detail = r#"{"level":"INFO","function":"payment","message":"charge"}"#;
        assert_eq!(log_entry("shop-payment", 8, detail), None);
        let warning =
            r#"{"level":"WARN","function":"repair","message":"refund failed: owed, retried"}"#;
        assert_eq!(
            log_entry("shop-repair", 9, warning).map(|e| e.kind),
            Some(Kind::Log)
        );
        assert_eq!(log_entry("shop-payment", 10, "START RequestId: x"), None);
    }

    const EXPRESS_ARN: &str = "arn:aws:states:us-east-1:000000000000:express:shop-local-checkout:ord_1:6282fff6-74d5-47f1-bdab-8d70db67b5a7";

    /// A log event as LocalStack writes it (`to_json_str` of its `HistoryLog`).
    fn localstack_log(id: u32, kind: &str, details: &str) -> String {
        format!(
            r#"{{"id": "{id}", "previous_event_id": "{}", "event_timestamp": "2026-01-02T03:04:05.678901+00:00", "type": "{kind}", "execution_arn": "{EXPRESS_ARN}", "details": {details}}}"#,
            id - 1
        )
    }

    #[test]
    fn express_log_events_become_run_events() {
        let entered = localstack_log(
            7,
            "TaskStateEntered",
            r#"{"name": "ChargePayment", "input": "{\"a\":1}", "inputDetails": {"truncated": false}}"#,
        );
        let event = RunEvent::from_log_message(&entered, 5).expect("an event");
        assert_eq!(event.run, "ord_1");
        assert_eq!(event.id, 7);
        assert_eq!(event.at_ms, 1_767_323_045_678);
        assert_eq!(event.kind, "TaskStateEntered");
        assert_eq!(event.state.as_deref(), Some("ChargePayment"));
        assert!(event.is_state_entered() && !event.is_run_end());

        let failed = localstack_log(
            9,
            "LambdaFunctionFailed",
            r#"{"error": "PaymentDeclined", "cause": "{\"errorMessage\":\"no\"}"}"#,
        );
        let event = RunEvent::from_log_message(&failed, 5).expect("an event");
        assert_eq!(event.error.as_deref(), Some("PaymentDeclined"));
        assert_eq!(event.cause.as_deref(), Some(r#"{"errorMessage":"no"}"#));
        assert_eq!(event.state, None);

        let exited = localstack_log(
            12,
            "MapStateExited",
            r#"{"name": "ReserveStock", "output": "{\"reserved\":[true,false]}", "outputDetails": {"truncated": false}}"#,
        );
        let event = RunEvent::from_log_message(&exited, 5).expect("an event");
        assert_eq!(event.state.as_deref(), Some("ReserveStock"));
        assert_eq!(
            event.output.as_deref(),
            Some(r#"{"reserved":[true,false]}"#)
        );

        let scheduled = localstack_log(
            3,
            "TaskScheduled",
            r#"{"resourceType": "states", "resource": "startExecution", "region": "us-east-1", "parameters": "{}"}"#,
        );
        let event = RunEvent::from_log_message(&scheduled, 5).expect("an event");
        assert_eq!(event.resource.as_deref(), Some("states:startExecution"));

        // AWS: epoch milliseconds as a string (or a number); the end of the run.
        let aws = format!(
            r#"{{"id":"30","previous_event_id":"29","event_timestamp":"1733097600123","type":"ExecutionSucceeded","execution_arn":"{EXPRESS_ARN}","details":{{"output":"{{}}"}}}}"#
        );
        let event = RunEvent::from_log_message(&aws, 5).expect("an event");
        assert_eq!((event.id, event.at_ms), (30, 1_733_097_600_123));
        assert!(event.is_run_end());
        let numeric = aws.replace(r#""1733097600123""#, "1733097600124");
        assert_eq!(
            RunEvent::from_log_message(&numeric, 5).map(|e| e.at_ms),
            Some(1_733_097_600_124)
        );
        // No usable time of its own: CloudWatch's.
        let untimed = aws.replace(r#""1733097600123""#, r#""soon""#);
        assert_eq!(
            RunEvent::from_log_message(&untimed, 5).map(|e| e.at_ms),
            Some(5)
        );
        assert_eq!(RunEvent::from_log_message("START RequestId: x", 5), None);
        assert_eq!(RunEvent::from_log_message(r#"{"message":"x"}"#, 5), None);
    }

    #[test]
    fn execution_arns_name_their_run_and_machine() {
        assert_eq!(execution_name_of(EXPRESS_ARN), Some("ord_1"));
        assert_eq!(machine_name_of(EXPRESS_ARN), Some("shop-local-checkout"));
        let standard =
            "arn:aws:states:us-east-1:000000000000:execution:shop-local-approval:approval-ord_1";
        assert_eq!(execution_name_of(standard), Some("approval-ord_1"));
        assert_eq!(machine_name_of(standard), Some("shop-local-approval"));
        assert_eq!(
            execution_name_of("arn:aws:states:us-east-1:0:stateMachine:m"),
            None
        );
        assert!(is_cancel_run("cancel-ord_1", "ord_1"));
        assert!(is_cancel_run("cancel-ord_1-2", "ord_1"));
        assert!(!is_cancel_run("cancel-ord_12", "ord_1"));
        assert!(!is_cancel_run("cancel-ord_1-", "ord_1"));
        assert!(!is_cancel_run("cancel-ord_1-x", "ord_1"));
        assert!(!is_cancel_run("ord_1", "ord_1"));
    }

    #[test]
    fn each_run_shows_its_states_failures_and_end() {
        let event = |id: i64, kind: &str, state: Option<&str>, error: Option<&str>| RunEvent {
            run: "ord_1".to_owned(),
            execution_arn: EXPRESS_ARN.to_owned(),
            id,
            at_ms: 1_000 + id,
            kind: kind.to_owned(),
            state: state.map(str::to_owned),
            error: error.map(str::to_owned),
            cause: None,
            output: None,
            resource: None,
        };
        let run = vec![
            event(1, "ExecutionStarted", None, None),
            event(2, "TaskStateEntered", Some("ChargePayment"), None),
            event(3, "TaskFailed", None, Some("PaymentProviderUnavailable")),
            event(4, "TaskStateExited", Some("ChargePayment"), None),
            event(5, "ExecutionSucceeded", None, None),
        ];
        let mut journey = Journey::default();
        run_entries(&run, "ord_1", &mut journey);
        let texts: Vec<&str> = journey.entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "execution started",
                "entered ChargePayment",
                "task failed: PaymentProviderUnavailable ",
                "execution succeeded"
            ]
        );
        assert_eq!(journey.entries[1].state.as_deref(), Some("ChargePayment"));
        assert!(
            journey
                .entries
                .iter()
                .all(|e| e.kind == Kind::Workflow && e.source == "shop-local-checkout")
        );
        assert!(journey.missing.is_empty());

        // Another run of the order says which; one without its end is reported.
        let resume: Vec<RunEvent> = run[..2]
            .iter()
            .cloned()
            .map(|e| RunEvent {
                run: "resume-ord_1".to_owned(),
                ..e
            })
            .collect();
        let mut journey = Journey::default();
        run_entries(&resume, "ord_1", &mut journey);
        assert_eq!(journey.entries[0].text, "execution started (resume-ord_1)");
        assert_eq!(journey.missing.len(), 1, "{:?}", journey.missing);
        assert!(journey.missing[0].contains("resume-ord_1"));
    }

    #[test]
    fn the_journey_prints_in_order_and_says_what_is_missing() {
        let journey = Journey {
            order_id: "o-1".to_owned(),
            correlation_id: "c-1".to_owned(),
            entries: vec![Entry {
                at_ms: 1_700_000_000_000,
                kind: Kind::Ledger,
                source: "ledger".to_owned(),
                event_type: None,
                state: None,
                text: "CHARGE 100 EUR".to_owned(),
            }],
            missing: vec!["no notification to a@b about this order".to_owned()],
        };
        let text = journey.to_string();
        assert!(
            text.starts_with("order o-1 (correlation id c-1)\n"),
            "{text}"
        );
        assert!(text.contains("2023-11-14T22:13:20.000Z"), "{text}");
        assert!(text.contains("ledger"), "{text}");
        assert!(
            text.contains("not found: no notification to a@b about this order"),
            "{text}"
        );
    }
}
