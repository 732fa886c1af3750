//! Utilities for Rust functions on AWS Lambda that know nothing about the application they
//! serve: the pieces Powertools gives other languages, written as plain library code.
//!
//! | need | module | main items |
//! | --- | --- | --- |
//! | HTTP APIs behind API Gateway REST | [`http`] | [`http::serve`], [`http::HttpError`], [`http::parse_json_body`], [`http::match_route`] |
//! | events on SNS → SQS | [`messaging`] | [`messaging::EventEnvelope`], [`messaging::SnsPublisher`] |
//! | a message straight to one queue (FIFO too) | [`messaging`] | [`messaging::SqsQueue`] |
//! | many messages to one queue: batches of 10, failed entries retried | [`messaging`] | [`messaging::send_all`], [`messaging::SqsBatchQueue`] |
//! | SQS batches with partial failures | [`messaging`] | [`messaging::BatchProcessor`] (standard), [`messaging::process_fifo_batch`] (FIFO) |
//! | answering before the invocation times out | [`messaging`] | [`messaging::BatchDeadline`] (records stop short of the deadline and fail alone) |
//! | exactly-once effects on at-least-once delivery | [`messaging`] | [`messaging::Idempotent`], [`messaging::DynamoIdempotencyStore`] |
//! | Lambda tasks in Step Functions | [`step`] | [`step::StepError`], [`step::run_step`] |
//! | starting executions, answering task tokens | [`workflow`] | [`workflow::Workflows`], [`workflow::SfnWorkflows`] |
//! | DynamoDB items and errors | [`dynamo`] | [`dynamo::ItemReader`], [`dynamo::is_conditional_failure`] |
//! | the SDK configuration, built once | [`aws`] | [`aws::sdk_config`] |
//! | AWS calls and sequential round trips per request | [`round_trips`] | [`round_trips::record`], [`round_trips::RoundTrips`] |
//! | AWS faults and latency on the local stack | [`faults`] | [`faults::FaultSpec`], [`faults::FaultInjectingClient`] (`LAMBDA_KIT_FAULTS`) |
//! | wrapping the SDK's HTTP client | [`sdk_http`] | [`sdk_http::ConnectorLayer`], [`sdk_http::LayeredClient`] |
//! | JSON logs through `tracing` | [`telemetry`] | [`telemetry::init`] |
//! | CloudWatch metrics (EMF) | [`metrics`] | [`metrics::count`], [`metrics::value`], [`metrics::flush`] |
//! | settings from the environment | [`config`] | [`config::Settings`], [`config::lookup_required`], [`config::lookup_positive`] |
//! | time that tests can set | [`clock`] | [`clock::Clock`] |
//! | reference data kept a few seconds between requests | [`cache`] | [`cache::TtlCache`] |
//! | locking fakes' and caches' state, poison or not | [`sync`] | [`sync::lock`] |
//! | ids and hex | [`ids`] | [`ids::new_uuid`], [`ids::sha256_hex`] |
//!
//! Every store and client sits behind a trait with an in-memory implementation, so the code
//! that uses it is unit-tested without AWS. A queue consumer is a handler and a processor:
//!
//! ```no_run
//! use lambda_kit::config::Settings as _;
//! use lambda_kit::messaging::{
//!     BatchProcessor, EventEnvelope, EventHandler, FromEnvelope, IdempotencyConfig,
//!     ProcessError, run_sqs_consumer,
//! };
//!
//! /// The events this consumer understands, decoded once per record by the processor.
//! #[derive(serde::Deserialize)]
//! struct Greeting {
//!     name: String,
//! }
//!
//! impl FromEnvelope for Greeting {
//!     fn from_envelope(envelope: &EventEnvelope) -> Result<Self, String> {
//!         match (envelope.event_type.as_str(), envelope.event_version) {
//!             ("Greeting", 1) => {
//!                 serde_json::from_value(envelope.detail.clone()).map_err(|e| e.to_string())
//!             }
//!             (other, version) => Err(format!("cannot handle {other} v{version}")),
//!         }
//!     }
//! }
//!
//! struct Greeter;
//!
//! impl EventHandler for Greeter {
//!     type Event = Greeting;
//!
//!     async fn handle(&self, envelope: &EventEnvelope, event: Greeting) -> Result<(), ProcessError> {
//!         tracing::info!(event_id = %envelope.event_id, name = %event.name, "hello");
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), lambda_http::Error> {
//!     lambda_kit::telemetry::init("greeter");
//!     let sdk = lambda_kit::aws::sdk_config().await;
//!     let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
//!     let idempotency = IdempotencyConfig::from_env()?.into_dynamo(dynamodb, "greeter");
//!     run_sqs_consumer(BatchProcessor::new("greeter", Greeter, idempotency)).await
//! }
//! ```

#![warn(missing_docs)]

pub mod aws;
pub mod cache;
pub mod clock;
pub mod config;
pub mod dynamo;
pub mod faults;
pub mod http;
pub mod ids;
pub mod messaging;
pub mod metrics;
pub mod round_trips;
pub mod sdk_http;
pub mod step;
pub mod sync;
pub mod telemetry;
pub mod workflow;
