//! Replay and rebuild from the event store (`shopctl replay`, `shopctl rebuild analytics`).
//!
//! The audit table is the event store: the audit-log consumer subscribes to the events topic
//! without a filter and appends every envelope once, verbatim ([`crate::audit`]). From it:
//!
//! - **Replay** ([`plan`], [`replay`]): the stored events of a time window, in order (event
//!   time, then id), sent to **one** consumer's queue — never to the topic, so no other
//!   consumer sees them again. Each message is what the topic's subscription hands that queue
//!   ([`OutgoingMessage::event`]: raw delivery, the envelope as the body, `eventType` and
//!   `source` as message attributes), so the consumer treats it as any delivery: same parser,
//!   same idempotency key (`<consumer>#<eventId>`), so an event it already processed is
//!   skipped. Only consumers subscribed to the topic ([`SUBSCRIBERS`]) and the event types
//!   their filter policy lets through can be replayed; anything else is an error.
//!   Idempotency holds for as long as the consumer remembers an event: the kit's `DONE`
//!   records and analytics' `COUNTED#` markers live 15 days ([`IDEMPOTENCY_HORIZON_SECONDS`]).
//!   Older events would be processed again, so a plan counts them and the caller must allow
//!   them explicitly.
//! - **Rebuild** ([`rebuild`]): the analytics projection computed again from the stored events
//!   by the analytics consumer's own handler ([`crate::analytics::Analytics`]) over an
//!   in-memory [`CounterStore`](crate::analytics::CounterStore), written to a fresh table and
//!   compared with the live one ([`rebuild::diff`]).
//!
//! The stores: [`EventLog`] (reads the audit table; [`DynamoEventLog`] scans it) and
//! [`rebuild::AnalyticsTables`] (reads, creates and writes counter tables).

use std::collections::BTreeMap;
use std::fmt;

use lambda_kit::messaging::{
    BatchQueueSender, EventEnvelope, OutgoingMessage, RetryPolicy, send_all,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::events::EventType;
use crate::store::StoreError;

mod dynamo;
pub use dynamo::{DynamoAnalyticsTables, DynamoEventLog};
#[cfg(any(test, feature = "fakes"))]
mod memory;
#[cfg(any(test, feature = "fakes"))]
pub use memory::{InMemoryAnalyticsTables, InMemoryEventLog};
pub mod rebuild;

/// How long a consumer remembers that it processed an event (the kit's
/// `DEFAULT_DONE_SECONDS` and [`crate::analytics::MARKER_SECONDS`]): a replayed event older
/// than this may be processed a second time.
pub const IDEMPOTENCY_HORIZON_SECONDS: i64 = lambda_kit::messaging::DEFAULT_DONE_SECONDS;

/// A consumer of the events topic, as `infra/template.yaml` subscribes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscriber {
    /// Its name (the function's crate name).
    pub name: &'static str,
    /// The stack output naming its queue's URL.
    pub queue_output: &'static str,
    /// The event types its filter policy lets through; `None`: every event.
    pub filter: Option<&'static [EventType]>,
}

impl Subscriber {
    /// Whether its subscription delivers events of `event_type`.
    pub fn receives(&self, event_type: &str) -> bool {
        self.filter
            .is_none_or(|types| types.iter().any(|t| t.as_str() == event_type))
    }
}

/// Every consumer subscribed to the events topic, with its filter policy (checked against the
/// template by a test). The approvals, ledger and repair queues are fed by the workflows
/// directly, not by the topic: their messages are not in the audit table.
pub const SUBSCRIBERS: [Subscriber; 5] = [
    Subscriber {
        name: crate::audit::FUNCTION_NAME,
        queue_output: "AuditLogQueueUrl",
        filter: None,
    },
    Subscriber {
        name: crate::analytics::FUNCTION_NAME,
        queue_output: "AnalyticsQueueUrl",
        filter: Some(&[
            EventType::LoginSucceeded,
            EventType::LoginFailed,
            EventType::AccountLocked,
            EventType::OrderPlaced,
            EventType::OrderCancelled,
        ]),
    },
    Subscriber {
        name: crate::fraud::FUNCTION_NAME,
        queue_output: "FraudDetectorQueueUrl",
        filter: Some(&[
            EventType::LoginFailed,
            EventType::LoginSucceeded,
            EventType::OrderPlaced,
        ]),
    },
    Subscriber {
        name: crate::notifications::FUNCTION_NAME,
        queue_output: "NotifierQueueUrl",
        filter: Some(&[
            EventType::AccountLocked,
            EventType::DuplicateRegistration,
            EventType::OrderPlaced,
            EventType::OrderShipped,
            EventType::OrderCancelled,
        ]),
    },
    Subscriber {
        name: crate::fulfilment::FUNCTION_NAME,
        queue_output: "FulfilmentQueueUrl",
        filter: Some(&[EventType::OrderPlaced]),
    },
];

/// Why a replay or a rebuild cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No consumer of that name subscribes to the events topic.
    #[error("{name:?} is not a consumer of the events topic; replayable: {known}")]
    UnknownConsumer {
        /// The name given.
        name: String,
        /// The names there are.
        known: String,
    },
    /// Not an event type of the shop.
    #[error("{0:?} is not an event type of the shop")]
    UnknownEventType(String),
    /// The consumer's filter policy does not let this type through.
    #[error("{consumer} does not subscribe to {event_type} (its filter policy: {filter})")]
    NotSubscribed {
        /// The consumer.
        consumer: &'static str,
        /// The type asked for.
        event_type: String,
        /// What it subscribes to.
        filter: String,
    },
    /// A time that is neither RFC 3339 nor a date.
    #[error("{0:?} is not a time: give RFC 3339 (2026-12-01T10:00:00Z) or a date (2026-12-01)")]
    BadTime(String),
    /// The window ends before it starts.
    #[error("the window is empty: --to {to} is not after --from {from}")]
    EmptyWindow {
        /// Its start.
        from: String,
        /// Its end.
        to: String,
    },
    /// The stack outputs lack a name the command needs.
    #[error("the stack outputs have no {0}: is this the shop's stack?")]
    MissingOutput(String),
    /// A table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The consumer named `name`.
pub fn subscriber(name: &str) -> Result<&'static Subscriber, ReplayError> {
    SUBSCRIBERS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ReplayError::UnknownConsumer {
            name: name.to_owned(),
            known: SUBSCRIBERS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Parses a time: RFC 3339, or a date `YYYY-MM-DD` (its midnight, UTC).
pub fn parse_time(text: &str) -> Result<OffsetDateTime, ReplayError> {
    let bad = || ReplayError::BadTime(text.to_owned());
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let mut parts = text.splitn(3, '-');
    let mut next = || {
        parts
            .next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let (Some(year), Some(month), Some(day)) = (next(), next(), next()) else {
        return Err(bad());
    };
    let year: i32 = year.parse().map_err(|_| bad())?;
    let month: u8 = month.parse().map_err(|_| bad())?;
    let day: u8 = day.parse().map_err(|_| bad())?;
    let month = time::Month::try_from(month).map_err(|_| bad())?;
    time::Date::from_calendar_date(year, month, day)
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| bad())
}

/// A time window of events: from `from` (included) to `to` (excluded; `None`: no end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first instant in it.
    pub from: OffsetDateTime,
    /// The first instant after it, if any.
    pub to: Option<OffsetDateTime>,
}

impl Window {
    /// The window `[from, to)`; an error when it is empty.
    pub fn new(from: OffsetDateTime, to: Option<OffsetDateTime>) -> Result<Self, ReplayError> {
        match to {
            Some(to) if to <= from => Err(ReplayError::EmptyWindow {
                from: rfc3339(from),
                to: rfc3339(to),
            }),
            _ => Ok(Self { from, to }),
        }
    }

    /// Every instant there is.
    pub fn everything() -> Self {
        Self {
            from: time::PrimitiveDateTime::MIN.assume_utc(),
            to: None,
        }
    }

    /// Whether `at` is in it.
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        at >= self.from && self.to.is_none_or(|to| at < to)
    }

    /// Whether every instant of `day` (`YYYY-MM-DD`) is in it.
    pub fn covers_day(&self, day: &str) -> bool {
        let Ok(start) = parse_time(day) else {
            return false;
        };
        let end = start + time::Duration::days(1);
        start >= self.from && self.to.is_none_or(|to| end <= to)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to {
            Some(to) => write!(f, "[{}, {})", rfc3339(self.from), rfc3339(to)),
            None => write!(f, "[{}, …)", rfc3339(self.from)),
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The envelopes of the event store, and the ids of the entries that are not envelopes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredEvents {
    /// The events, in no particular order.
    pub events: Vec<EventEnvelope>,
    /// Ids of entries whose stored envelope does not parse.
    pub unreadable: Vec<String>,
}

/// The event store, read.
pub trait EventLog: Send + Sync {
    /// Every stored event (the audit table is small enough to read whole: a `Scan`).
    fn read_all(&self) -> impl Future<Output = Result<StoredEvents, StoreError>> + Send;
}

/// An event's place in time: its `occurredAt`, if it parses.
pub fn occurred_at(event: &EventEnvelope) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(&event.occurred_at, &Rfc3339).ok()
}

/// The events of `events` in `window` (by `occurredAt`), in order: event time, then id.
/// Events whose time does not parse are left out and returned apart (their ids).
pub fn in_window(events: Vec<EventEnvelope>, window: &Window) -> (Vec<EventEnvelope>, Vec<String>) {
    let mut timed = Vec::with_capacity(events.len());
    let mut untimed = Vec::new();
    for event in events {
        match occurred_at(&event) {
            Some(at) if window.contains(at) => timed.push((at, event)),
            Some(_) => {}
            None => untimed.push(event.event_id),
        }
    }
    timed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.event_id.cmp(&y.event_id)));
    (timed.into_iter().map(|(_, e)| e).collect(), untimed)
}

/// What to replay: to whom, which window, which types (empty: every type it receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    /// The consumer.
    pub consumer: &'static Subscriber,
    /// The events' time window.
    pub window: Window,
    /// The types asked for; empty: every type the consumer's subscription delivers.
    pub types: Vec<String>,
}

impl ReplayRequest {
    /// A request for `consumer`'s events of `types` in `window`, checked: the consumer must
    /// subscribe to the topic and to every type asked for.
    pub fn new(consumer: &str, window: Window, types: Vec<String>) -> Result<Self, ReplayError> {
        let consumer = subscriber(consumer)?;
        for event_type in &types {
            if EventType::parse(event_type).is_none() {
                return Err(ReplayError::UnknownEventType(event_type.clone()));
            }
            if !consumer.receives(event_type) {
                return Err(ReplayError::NotSubscribed {
                    consumer: consumer.name,
                    event_type: event_type.clone(),
                    filter: consumer
                        .filter
                        .unwrap_or_default()
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(Self {
            consumer,
            window,
            types,
        })
    }

    fn wants(&self, event_type: &str) -> bool {
        self.consumer.receives(event_type)
            && (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
    }
}

/// What a replay would send: the dry run's answer and the real run's input.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayPlan {
    /// The consumer.
    pub consumer: &'static str,
    /// The window.
    pub window: Window,
    /// The events to send, in order.
    pub events: Vec<EventEnvelope>,
    /// How many of them are older than [`IDEMPOTENCY_HORIZON_SECONDS`]: the consumer may
    /// have forgotten them and would process them again.
    pub beyond_idempotency: usize,
    /// Ids of stored entries left out because their envelope or time does not parse.
    pub unreadable: Vec<String>,
}

impl ReplayPlan {
    /// Events per type, by name.
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for event in &self.events {
            *counts.entry(event.event_type.as_str()).or_default() += 1;
        }
        counts
    }
}

impl fmt::Display for ReplayPlan {
    /// The dry run: one line per event type, the total and the warnings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "replay to {}, events in {}:", self.consumer, self.window)?;
        for (event_type, count) in self.counts() {
            writeln!(f, "  {event_type:<24} {count:>8}")?;
        }
        writeln!(f, "  {:<24} {:>8}", "total", self.events.len())?;
        if self.beyond_idempotency > 0 {
            writeln!(
                f,
                "warning: {} of them are older than {} days: {} may have forgotten them and would process them again",
                self.beyond_idempotency,
                IDEMPOTENCY_HORIZON_SECONDS / 86_400,
                self.consumer
            )?;
        }
        if !self.unreadable.is_empty() {
            writeln!(
                f,
                "note: {} stored entries left out, their envelope or time does not parse: {}",
                self.unreadable.len(),
                self.unreadable.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The replay of `request` over the stored `events`, as of `now` (epoch seconds).
pub fn plan(request: &ReplayRequest, stored: StoredEvents, now: i64) -> ReplayPlan {
    let wanted: Vec<EventEnvelope> = stored
        .events
        .into_iter()
        .filter(|e| request.wants(&e.event_type))
        .collect();
    let (events, untimed) = in_window(wanted, &request.window);
    let horizon = now.saturating_sub(IDEMPOTENCY_HORIZON_SECONDS);
    let beyond_idempotency = events
        .iter()
        .filter(|e| occurred_at(e).is_some_and(|at| at.unix_timestamp() < horizon))
        .count();
    let mut unreadable = stored.unreadable;
    unreadable.extend(untimed);
    ReplayPlan {
        consumer: request.consumer.name,
        window: request.window,
        events,
        beyond_idempotency,
        unreadable,
    }
}

/// An event a replay could not send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSent {
    /// Its id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// The queue's last answer.
    pub reason: String,
}

/// What a replay sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Events the queue took.
    pub sent: usize,
    /// Entries sent again after a failure.
    pub retries: usize,
    /// Events not sent after every try.
    pub not_sent: Vec<NotSent>,
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sent {} events ({} entries retried), {} not sent",
            self.sent,
            self.retries,
            self.not_sent.len()
        )?;
        for missed in &self.not_sent {
            writeln!(
                f,
                "not sent: {} {}: {}",
                missed.event_type, missed.event_id, missed.reason
            )?;
        }
        Ok(())
    }
}

/// Sends the plan's events to the consumer's queue, in order, in batches of 10, the entries
/// that fail retried with `policy` ([`send_all`]).
pub async fn replay<Q: BatchQueueSender>(
    plan: &ReplayPlan,
    queue: &Q,
    policy: RetryPolicy,
) -> ReplayReport {
    let messages: Vec<OutgoingMessage> = plan.events.iter().map(OutgoingMessage::event).collect();
    let report = send_all(queue, &messages, policy).await;
    ReplayReport {
        sent: report.sent,
        retries: report.retries,
        not_sent: report
            .failed
            .into_iter()
            .filter_map(|unsent| {
                let event = plan.events.get(unsent.index)?;
                Some(NotSent {
                    event_id: event.event_id.clone(),
                    event_type: event.event_type.clone(),
                    reason: unsent.reason,
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
