//! The shop backend's library, laid out by business area. Every area has the same files:
//! `mod.rs` (types and its store trait), `api.rs` (HTTP handlers) / `consumer.rs` (queue
//! handler) / `step.rs` (workflow task) / `schedule.rs` (scheduled job), `dynamo.rs` (DynamoDB adapter), `memory.rs`
//! (in-memory adapter, compiled for tests and the `fakes` feature only) and `tests.rs`.
//! What knows nothing about a shop (HTTP plumbing, batch processors, idempotency, the
//! envelope, telemetry…) is the [`lambda_kit`] crate.
//!
//! | function (crate) | module | tables | template |
//! | --- | --- | --- | --- |
//! | catalog-api | [`catalog::api`] | products | `CatalogApiFunction` |
//! | cart-api | [`cart::api`] | products, sessions (carts), users | `CartApiFunction` |
//! | auth-api | [`auth::api`] | users, sessions | `AuthApiFunction` |
//! | authorizer | [`auth::authorizer`] | sessions, users | `AuthorizerFunction` |
//! | checkout-api | [`checkout::api`] | orders, sessions, users | `CheckoutApiFunction` |
//! | orders-api | [`orders::api`] | orders, sessions, users | `OrdersApiFunction` |
//! | pricing (workflow task) | [`pricing`] | products | `PricingFunction` |
//! | payment (workflow task) | [`payment`] | payments | `PaymentFunction` |
//! | fraud-detector (queue) | [`fraud`] | fraud, users | `FraudDetectorFunction` |
//! | audit-log (queue) | [`audit`] | audit | `AuditLogFunction` |
//! | analytics (queue) | [`analytics`] | analytics | `AnalyticsFunction` |
//! | notifier (queue) | [`notifications`] | notifications | `NotifierFunction` |
//! | approvals (queue) | [`approvals`] | orders, notifications | `ApprovalsFunction` |
//! | fulfilment (delay queue) | [`fulfilment`] | orders, reservations | `FulfilmentFunction` |
//! | ledger (FIFO queue) | [`ledger`] | ledger | `LedgerFunction` |
//! | repair (queue) | [`repair`] | orders, payments, reservations, products | `RepairFunction` |
//! | reconciler (schedule) | [`reconciler`] | orders, reservations | `ReconcilerFunction` |
//! | `shopctl reconcile --check` (tool) | [`reconcile`] | products, reservations, orders, payments, ledger, analytics (read only) | — |
//!
//! Shared by every area: [`api_error`] (the API's one error type), [`store`] (the one store
//! error and the DynamoDB item helpers), [`events`] (the event types on the bus), [`config`].
//! The checkout workflow itself is `statemachines/checkout.asl.json` ([`checkout`] holds the
//! error names its tasks report).

pub mod analytics;
pub mod api_error;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod events;
pub mod fraud;
pub mod fulfilment;
pub mod ledger;
pub mod notifications;
pub mod orders;
pub mod payment;
pub mod pricing;
pub mod reconcile;
pub mod reconciler;
pub mod repair;
pub mod store;

#[cfg(test)]
mod test_support;
