//! The event backbone: the envelope every event travels in, publishing to the SNS topic, the
//! generic SQS batch processor of the consumers and their idempotency on `eventId`.

pub use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

mod batch;
mod batch_send;
mod consumer;
mod deadline;
mod envelope;
mod fifo;
mod idempotency;
mod publisher;
mod queue;

pub use batch::{
    AnyEvent, BatchProcessor, DEFAULT_CONCURRENCY, EventHandler, FromEnvelope, ProcessError,
    RecordOutcome, parse_record, process_standard_batch,
};
pub use batch_send::{
    BatchQueueSender, BatchSendReport, EntryFailure, InMemoryBatchQueue, MAX_BATCH_ENTRIES,
    OutgoingMessage, RetryPolicy, SqsBatchQueue, Unsent, send_all,
};
pub use consumer::{IdempotencyConfig, run_sqs_consumer};
pub use deadline::BatchDeadline;
pub use envelope::{EVENT_TYPE_ATTRIBUTE, EnvelopeError, EventEnvelope};
pub use fifo::{FifoRecord, process_fifo_batch};
pub use idempotency::{
    Claim, DEFAULT_DONE_SECONDS, DynamoIdempotencyStore, IdempotencyError, IdempotencyStore,
    Idempotent, InMemoryIdempotencyStore,
};
pub use publisher::{
    EventPublisher, InMemoryPublisher, PublishError, SnsPublisher, publish_best_effort,
};
pub use queue::{FifoKeys, InMemoryQueue, QueueSender, SendError, SentMessage, SqsQueue};
