//! The shop backend's library, laid out by business area. Every area has the same files:
//! `mod.rs` (types and its store trait), `api.rs` (HTTP handlers) / `consumer.rs` (queue
//! handler) / `step.rs` (workflow task) / `schedule.rs` (scheduled job), `dynamo.rs` (DynamoDB adapter), `memory.rs`
//! (in-memory adapter, compiled for tests and the `fakes` feature only) and `tests.rs`.
//! What knows nothing about a shop (HTTP plumbing, batch processors, idempotency, the
//! envelope, telemetry…) is the [`lambda_kit`] crate.
//!
//! | function (crate) | module | settings | tables | template |
//! | --- | --- | --- | --- | --- |
//! | catalog-api | [`catalog::api`] | [`catalog::CatalogApiSettings`] | products (+ media bucket: presigned thumbnail URLs) | `CatalogApiFunction` |
//! | cart-api | [`cart::api`] | [`cart::CartApiSettings`] | products, sessions (carts), users | `CartApiFunction` |
//! | auth-api | [`auth::api`] | [`auth::AuthApiSettings`] | users, sessions | `AuthApiFunction` |
//! | authorizer | [`auth::authorizer`] | [`auth::AuthorizerSettings`] | sessions, users | `AuthorizerFunction` |
//! | checkout-api | [`checkout::api`] | [`checkout::CheckoutApiSettings`] | orders, sessions, users | `CheckoutApiFunction` |
//! | orders-api | [`orders::api`] | [`orders::OrdersApiSettings`] | orders, sessions, users | `OrdersApiFunction` |
//! | pricing (workflow task) | [`pricing`] | [`pricing::PricingSettings`] | products | `PricingFunction` |
//! | payment (workflow task) | [`payment`] | [`payment::PaymentSettings`] | payments | `PaymentFunction` |
//! | fraud-detector (queue) | [`fraud`] | [`fraud::FraudDetectorSettings`] | fraud, users | `FraudDetectorFunction` |
//! | audit-log (queue) | [`audit`] | [`audit::AuditLogSettings`] | audit | `AuditLogFunction` |
//! | analytics (queue) | [`analytics`] | [`analytics::AnalyticsSettings`] | analytics | `AnalyticsFunction` |
//! | notifier (queue) | [`notifications`] | [`notifications::NotifierSettings`] | notifications | `NotifierFunction` |
//! | approvals (queue) | [`approvals`] | [`approvals::ApprovalsSettings`] | orders, notifications | `ApprovalsFunction` |
//! | fulfilment (delay queue) | [`fulfilment`] | [`fulfilment::FulfilmentSettings`] | orders, reservations | `FulfilmentFunction` |
//! | ledger (FIFO queue) | [`ledger`] | [`ledger::LedgerSettings`] | ledger | `LedgerFunction` |
//! | repair (queue) | [`repair`] | [`repair::RepairSettings`] | orders, payments, reservations, products, sessions | `RepairFunction` |
//! | reconciler (schedule) | [`reconciler`] | [`reconciler::ReconcilerSettings`] | orders, reservations | `ReconcilerFunction` |
//! | images-api | [`media::api`] | [`media::ImagesApiSettings`] | products, sessions, users, media (+ media bucket) | `ImagesApiFunction` |
//! | image-checker (queue: media bucket notifications) | [`media`] (`checker.rs`) | [`media::ImageCheckerSettings`] | media (+ media bucket) | `ImageCheckerFunction` |
//! | thumbnailer (queue: media bucket notifications) | [`media`] (`thumbnailer.rs`) | [`media::ThumbnailerSettings`] | media (+ media bucket) | `ThumbnailerFunction` |
//! | catalog-images (queue: media bucket notifications) | [`media`] (`catalog.rs`) | [`media::CatalogImagesSettings`] | media, products | `CatalogImagesFunction` |
//! | `shopctl replay`, `shopctl rebuild analytics` (tool) | [`replay`] | — | audit (read), the consumers' queues (send), analytics (read; a new table written) | — |
//! | `shopctl reconcile --check` (tool) | [`reconcile`] | — | products, reservations, orders, payments, ledger, analytics (read only) | — |
//!
//! Every function reads its settings once at cold start through one shape,
//! `XxxSettings::from_env()` ([`config::Settings`], the kit's trait): the struct of the
//! "settings" column, in its area's `mod.rs` with the area's other types and unit-tested
//! through `from_lookup` in its `tests.rs`; its `main` is wiring only.
//!
//! Areas with no function of their own: [`reservations`] (the units open orders hold: every
//! access to the reservations table from Rust, used by fulfilment, repair and the
//! reconciler; the workflows reserve and release in ASL).
//!
//! Shared by every area: [`api_error`] (the API's one error type), [`store`] (the one store
//! error and the DynamoDB item helpers), [`events`] (the event types on the bus), [`config`]
//! (the settings trait and the variables the API functions share), `openapi` (feature
//! `schemas`: the API's OpenAPI document, `api/openapi.json`, generated from the handlers' types).
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
pub mod media;
pub mod notifications;
#[cfg(feature = "schemas")]
pub mod openapi;
pub mod orders;
pub mod payment;
pub mod pricing;
pub mod reconcile;
pub mod reconciler;
pub mod repair;
pub mod replay;
pub mod reservations;
pub mod store;

#[cfg(test)]
mod test_support;
