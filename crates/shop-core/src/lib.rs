//! Shared library of the shop backend.
//!
//! Organised by concern: [`domain`] (money, SKUs, products, carts), [`session`] (tokens),
//! [`auth`] (accounts, login, the one authentication rule, the Lambda authorizer), [`store`]
//! (traits with DynamoDB and in-memory implementations), [`http`] (errors, request parsing,
//! routing, responses), [`messaging`] (event envelope, publishing, the SQS batch processor,
//! idempotency), [`consumers`] (audit log, analytics, fraud detector, notifier), [`config`],
//! [`telemetry`], and the request handlers of the API functions: [`catalog`] and [`cart`].
//! The Lambda binaries only wire these together.

pub mod api_error;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod orders;
pub mod payment;
pub mod pricing;
pub mod session;
pub mod store;

#[cfg(test)]
mod test_support;
