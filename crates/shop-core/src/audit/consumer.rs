//! audit-log: the queue handler.

use super::AuditStore;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

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
    async fn handle(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        if !self.store.append(event, self.clock.now()).await? {
            tracing::info!("already in the audit log");
        }
        Ok(())
    }
}
