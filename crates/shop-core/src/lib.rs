//! Shared library of the shop backend.
//!
//! Organised by concern: [`domain`] (money, SKUs, products, carts), [`session`] (tokens and
//! authentication), [`store`] (traits with DynamoDB and in-memory implementations), [`http`]
//! (errors, request parsing, routing, responses), [`config`], [`telemetry`], and the request
//! handlers of the API functions: [`catalog`] and [`cart`]. The Lambda binaries only wire
//! these together.

pub mod aws;
pub mod cart;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod session;
pub mod store;
pub mod telemetry;

#[cfg(test)]
mod test_support;
