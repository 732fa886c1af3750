//! `shopctl rebuild analytics`: the analytics projection computed again from the event store,
//! written to a fresh table, and compared with the live one.
//!
//! The projection is made by the analytics consumer's own handler
//! ([`crate::analytics::Analytics`]: the same decoding, the same day of `occurredAt`, the same
//! [`increments_of`](crate::analytics::increments_of), counted once per `eventId`) over an
//! [`InMemoryCounterStore`], fed the stored events the analytics queue's
//! filter policy lets through, in event order. The totals are then written to the new table,
//! one item per day, as the live table holds them (without the live table's `COUNTED#`
//! markers: the new table is a projection to compare or inspect, not yet a consumer's table).
//!
//! How the two tables relate (docs/event-store.md): both are fed by the same topic through two
//! queues, so they agree once both consumers have caught up, except where one of them did not
//! get or could not process an event (a message in a DLQ, a purged queue), for events older
//! than the audit table, or for an event analytics cannot decode (it fails there too: listed in
//! [`Rebuilt::failed`]).

use std::collections::BTreeMap;
use std::fmt;

use lambda_kit::messaging::{EventEnvelope, EventHandler as _};

use super::{ReplayError, StoredEvents, Window, in_window, subscriber};
pub use crate::analytics::Counters;
use crate::analytics::{Analytics, InMemoryCounterStore};
use crate::store::StoreError;

/// Counter tables: the live analytics table and the ones a rebuild creates.
pub trait AnalyticsTables: Send + Sync {
    /// The day items of `table` (its `COUNTED#` markers and `expires_at` left out).
    fn read(&self, table: &str) -> impl Future<Output = Result<Counters, StoreError>> + Send;
    /// Creates `table` with the analytics table's key (`day`) and waits until it is usable.
    fn create(&self, table: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes one item per day of `counters` into `table`.
    fn write(
        &self,
        table: &str,
        counters: &Counters,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The projection of a set of events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// The counters.
    pub counters: Counters,
    /// Events handed to the analytics handler.
    pub events: usize,
    /// Events the handler failed, (id, reason): the live consumer fails them too.
    pub failed: Vec<(String, String)>,
}

/// Runs the analytics consumer's handler over `events` (those its subscription delivers),
/// in event order, and returns what it counted.
pub async fn project(events: Vec<EventEnvelope>, window: Option<&Window>) -> Rebuilt {
    let analytics_sub = subscriber(crate::analytics::FUNCTION_NAME).ok();
    let events: Vec<EventEnvelope> = events
        .into_iter()
        .filter(|e| analytics_sub.is_some_and(|s| s.receives(&e.event_type)))
        .collect();
    let window = window.copied().unwrap_or_else(Window::everything);
    let (events, _) = in_window(events, &window);
    let analytics = Analytics::new(InMemoryCounterStore::default());
    let mut failed = Vec::new();
    for event in &events {
        if let Err(err) = analytics.handle_envelope(event).await {
            failed.push((event.event_id.clone(), err.to_string()));
        }
    }
    Rebuilt {
        counters: analytics.store().counters(),
        events: events.len(),
        failed,
    }
}

/// One counter that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterDiff {
    /// The day.
    pub day: String,
    /// The counter.
    pub counter: String,
    /// Its value in the live table (0: absent).
    pub live: i64,
    /// Its value in the rebuilt projection (0: absent).
    pub rebuilt: i64,
}

/// The counters that differ between `live` and `rebuilt` on the days `in_scope` accepts, by
/// day then counter; a counter absent on one side counts as 0 there.
pub fn diff(
    live: &Counters,
    rebuilt: &Counters,
    in_scope: impl Fn(&str) -> bool,
) -> Vec<CounterDiff> {
    let empty = BTreeMap::new();
    let days: std::collections::BTreeSet<&String> = live.keys().chain(rebuilt.keys()).collect();
    let mut diffs = Vec::new();
    for day in days.into_iter().filter(|d| in_scope(d)) {
        let l = live.get(day).unwrap_or(&empty);
        let r = rebuilt.get(day).unwrap_or(&empty);
        let names: std::collections::BTreeSet<&String> = l.keys().chain(r.keys()).collect();
        for name in names {
            let (live, rebuilt) = (
                l.get(name).copied().unwrap_or(0),
                r.get(name).copied().unwrap_or(0),
            );
            if live != rebuilt {
                diffs.push(CounterDiff {
                    day: day.clone(),
                    counter: name.clone(),
                    live,
                    rebuilt,
                });
            }
        }
    }
    diffs
}

/// What a rebuild did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// The live table.
    pub live_table: String,
    /// The table the projection was written to.
    pub rebuilt_table: String,
    /// The window compared (`None`: everything).
    pub window: Option<Window>,
    /// The projection.
    pub rebuilt: Rebuilt,
    /// Days compared.
    pub days: usize,
    /// Counters that differ.
    pub diffs: Vec<CounterDiff>,
    /// Stored entries left out (their envelope or time does not parse).
    pub unreadable: Vec<String>,
}

impl RebuildReport {
    /// Whether the rebuilt projection equals the live one.
    pub fn equal(&self) -> bool {
        self.diffs.is_empty()
    }
}

impl fmt::Display for RebuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = self
            .window
            .map_or_else(|| "every day".to_owned(), |w| format!("the days of {w}"));
        writeln!(
            f,
            "rebuilt {} from {} events into {}; compared with {} over {scope} ({} days)",
            crate::analytics::FUNCTION_NAME,
            self.rebuilt.events,
            self.rebuilt_table,
            self.live_table,
            self.days
        )?;
        for (id, reason) in &self.rebuilt.failed {
            writeln!(
                f,
                "note: event {id} not counted (the consumer fails it too): {reason}"
            )?;
        }
        if !self.unreadable.is_empty() {
            writeln!(
                f,
                "note: {} stored entries left out, their envelope or time does not parse",
                self.unreadable.len()
            )?;
        }
        if self.diffs.is_empty() {
            return writeln!(f, "equal: the live table matches the event store");
        }
        writeln!(
            f,
            "{:<12} {:<18} {:>12} {:>12}",
            "day", "counter", "live", "rebuilt"
        )?;
        for d in &self.diffs {
            writeln!(
                f,
                "{:<12} {:<18} {:>12} {:>12}",
                d.day, d.counter, d.live, d.rebuilt
            )?;
        }
        writeln!(f, "different: {} counters", self.diffs.len())
    }
}

/// Rebuilds the analytics projection from `stored` into the new table `rebuilt_table`
/// (created here) and compares it with `live_table`, over the days `window` covers whole
/// (`None`: every day).
pub async fn rebuild<T: AnalyticsTables>(
    tables: &T,
    stored: StoredEvents,
    live_table: &str,
    rebuilt_table: &str,
    window: Option<Window>,
) -> Result<RebuildReport, ReplayError> {
    let rebuilt = project(stored.events, window.as_ref()).await;
    tables.create(rebuilt_table).await?;
    tables.write(rebuilt_table, &rebuilt.counters).await?;
    // Compared as written: what the new table holds, read back.
    let written = tables.read(rebuilt_table).await?;
    let live = tables.read(live_table).await?;
    let in_scope = |day: &str| window.is_none_or(|w| w.covers_day(day));
    let days = live
        .keys()
        .chain(written.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|d| in_scope(d))
        .count();
    let diffs = diff(&live, &written, in_scope);
    Ok(RebuildReport {
        live_table: live_table.to_owned(),
        rebuilt_table: rebuilt_table.to_owned(),
        window,
        rebuilt,
        days,
        diffs,
        unreadable: stored.unreadable,
    })
}

/// The name of a rebuild's table when none is given: `<live table>-rebuild-<UTC time>`.
pub fn derived_table_name(live_table: &str, now: i64) -> String {
    let stamp = time::OffsetDateTime::from_unix_timestamp(now).map_or_else(
        |_| now.to_string(),
        |at| {
            format!(
                "{:04}{:02}{:02}t{:02}{:02}{:02}z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            )
        },
    );
    format!("{live_table}-rebuild-{stamp}")
}
