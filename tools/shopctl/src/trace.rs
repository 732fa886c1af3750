//! `shopctl trace --order <id>`: one order's journey, in time order, from everything the stack
//! keeps about it. This is how a developer follows a request where X-Ray is not available.
//!
//! | source | what it gives | found by |
//! | --- | --- | --- |
//! | orders table | the order: created, its status now | `GetItem` on the order id (absent: [`TraceError::UnknownOrder`]) |
//! | CloudWatch Logs | the API request, each workflow step's Lambda, each consumer that processed an event | every function's log group, lines with the order's correlation id or its id |
//! | Step Functions | every state the checkout execution entered, failures, the end | the execution the order records (named after the order id) |
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
    /// The checkout state machine (executions are named after the order id).
    pub checkout_state_machine_arn: String,
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
        Ok(Self {
            orders_table: get("OrdersTableName")?,
            ledger_table: get("LedgerTableName")?,
            audit_table: get("AuditTableName")?,
            notifications_table: get("NotificationsTableName")?,
            checkout_state_machine_arn: get("CheckoutStateMachineArn")?,
            functions,
        })
    }
}

/// The SDK clients the trace reads with.
#[derive(Debug, Clone)]
pub struct Clients {
    /// DynamoDB (the tables).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// CloudWatch Logs (the functions' lines).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Step Functions (the execution history).
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
    /// A state of the checkout execution (entered, failed, the end).
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
    let execution_arn = order
        .get("execution_arn")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_else(|| {
            lambda_kit::workflow::execution_arn_of(&targets.checkout_state_machine_arn, order_id)
        });

    workflow(clients, &execution_arn, &mut journey).await;
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

/// The checkout execution's history: every state entered, failures, the end.
async fn workflow(clients: &Clients, execution_arn: &str, journey: &mut Journey) {
    use aws_sdk_sfn::types::HistoryEventType as T;
    let machine = execution_arn
        .split(':')
        .rev()
        .nth(1)
        .unwrap_or("checkout")
        .to_owned();
    let mut next: Option<String> = None;
    let mut seen = 0;
    loop {
        let page = clients
            .sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .set_next_token(next.take())
            .max_results(1000)
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                journey.missing.push(format!(
                    "the checkout execution's history ({execution_arn}): {}",
                    aws_sdk_sfn::error::DisplayErrorContext(err)
                ));
                return;
            }
        };
        for event in page.events() {
            seen += 1;
            let at_ms = event.timestamp().to_millis().unwrap_or(0);
            let (state, text) = match event.r#type() {
                T::ExecutionStarted => (None, "execution started".to_owned()),
                T::ExecutionSucceeded => (None, "execution succeeded".to_owned()),
                T::ExecutionFailed => {
                    let details = event.execution_failed_event_details();
                    (
                        None,
                        format!(
                            "execution failed: {} {}",
                            details.and_then(|d| d.error()).unwrap_or_default(),
                            details.and_then(|d| d.cause()).unwrap_or_default()
                        ),
                    )
                }
                T::ExecutionTimedOut => (None, "execution timed out".to_owned()),
                T::ExecutionAborted => (None, "execution aborted".to_owned()),
                _ => {
                    if let Some(entered) = event.state_entered_event_details() {
                        let name = entered.name().to_owned();
                        (Some(name.clone()), format!("entered {name}"))
                    } else if let Some(failed) = event.task_failed_event_details() {
                        (
                            None,
                            format!(
                                "task failed: {} {}",
                                failed.error().unwrap_or_default(),
                                failed.cause().unwrap_or_default()
                            ),
                        )
                    } else if let Some(failed) = event.lambda_function_failed_event_details() {
                        (
                            None,
                            format!(
                                "Lambda task failed: {} {}",
                                failed.error().unwrap_or_default(),
                                failed.cause().unwrap_or_default()
                            ),
                        )
                    } else {
                        continue;
                    }
                }
            };
            journey.entries.push(Entry {
                at_ms,
                kind: Kind::Workflow,
                source: machine.clone(),
                event_type: None,
                state,
                text,
            });
        }
        match page.next_token() {
            Some(token) if !page.events().is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    if seen == 0 {
        journey.missing.push(format!(
            "the checkout execution {execution_arn} has no history"
        ));
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
            targets.map(|t| t.functions),
            Some(vec!["shop-cart-api".to_owned(), "shop-notifier".to_owned()])
        );
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
