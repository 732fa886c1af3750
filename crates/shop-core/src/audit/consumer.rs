//! audit-log: the queue handler.

use super::AuditStore;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{AnyEvent, EventEnvelope, EventHandler, ProcessError};

/// The audit log consumer.
#[derive(Debug)]
pub struct AuditLog<A> {
    store: A,
    clock: Clock,
}

impl<A: AuditStore> AuditLog<A> {
    /// A consumer writing to `store`.
    pub fn new(store: A) -> Self {
        Self {
            store,
            clock: Clock::System,
        }
    }

    /// The store (tests).
    pub fn store(&self) -> &A {
        &self.store
    }
}

impl<A: AuditStore> EventHandler for AuditLog<A> {
    /// Every envelope as it is, unknown types too: the audit log is the event store.
    type Event = AnyEvent;

    async fn handle(&self, event: &EventEnvelope, _: AnyEvent) -> Result<(), ProcessError> {
        if !self.store.append(event, self.clock.now()).await? {
            tracing::info!("already in the audit log");
        }
        Ok(())
    }
}
