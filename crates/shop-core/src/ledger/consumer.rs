//! ledger: the queue handler.

use super::{CHARGE, FUNCTION_NAME, LedgerEntry, LedgerStore, REFUND};
use crate::events::ShopEvent;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{
    BatchDeadline, FifoRecord, ProcessError, RecordOutcome, SqsBatchResponse, SqsEvent,
    process_fifo_batch,
};

/// `SequenceNumber` zero-padded to 20 digits (SQS sequence numbers are up to 20 digits).
pub fn padded_sequence(sequence_number: &str) -> Result<String, ProcessError> {
    if sequence_number.is_empty()
        || sequence_number.len() > 20
        || !sequence_number.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ProcessError::Malformed(format!(
            "SequenceNumber {sequence_number:?} is not up to 20 digits"
        )));
    }
    Ok(format!("{sequence_number:0>20}"))
}

/// The ledger consumer.
#[derive(Debug)]
pub struct Ledger<S> {
    store: S,
    clock: Clock,
}

impl<S: LedgerStore> Ledger<S> {
    /// A ledger recording into `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store (tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Processes one SQS FIFO batch without a deadline; returns the records to retry.
    pub async fn process(&self, event: SqsEvent) -> SqsBatchResponse {
        self.process_within(event, BatchDeadline::NONE).await
    }

    /// Processes one SQS FIFO batch, stopping short of `deadline` (the invocation's); returns
    /// the records to retry.
    pub async fn process_within(
        &self,
        event: SqsEvent,
        deadline: BatchDeadline,
    ) -> SqsBatchResponse {
        process_fifo_batch(FUNCTION_NAME, event.records, deadline, |record| {
            self.handle(record)
        })
        .await
    }

    /// The entry a record makes.
    pub fn entry_of(&self, record: &FifoRecord) -> Result<LedgerEntry, ProcessError> {
        let event = &record.envelope;
        let decoded =
            ShopEvent::from_envelope(event).map_err(|e| ProcessError::Malformed(e.to_string()))?;
        let (kind, operation) = match decoded {
            ShopEvent::PaymentCaptured(captured) => (CHARGE, captured),
            ShopEvent::PaymentRefunded(refunded) => (REFUND, refunded),
            other => {
                return Err(ProcessError::Malformed(format!(
                    "{} does not belong on the payments ledger",
                    other.event_type().as_str()
                )));
            }
        };
        if operation.operation_id.is_empty() {
            return Err(ProcessError::Malformed(format!(
                "{} with an empty detail.operationId",
                event.event_type
            )));
        }
        let order_id = operation.order_id.as_str().to_owned();
        let operation_id = operation.operation_id;
        let amount = operation.amount;
        if order_id != record.message_group_id {
            tracing::warn!(order_id = %order_id, group = %record.message_group_id, "order id differs from the message group");
        }
        Ok(LedgerEntry {
            order_id,
            seq: padded_sequence(&record.sequence_number)?,
            operation_id,
            kind,
            amount,
            event_id: event.event_id.clone(),
            recorded_at: self.clock.now(),
        })
    }

    /// Records one FIFO record.
    pub async fn handle(&self, record: FifoRecord) -> Result<RecordOutcome, ProcessError> {
        let entry = self.entry_of(&record)?;
        let recorded = self.store.record(&entry).await?;
        tracing::info!(
            order_id = %entry.order_id,
            seq = %entry.seq,
            kind = entry.kind,
            operation_id = %entry.operation_id,
            amount = entry.amount.amount_minor,
            "ledger entry recorded"
        );
        Ok(if recorded {
            RecordOutcome::Processed
        } else {
            RecordOutcome::Duplicate
        })
    }
}
