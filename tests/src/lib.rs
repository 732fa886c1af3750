//! Helpers for the integration tests (`tests/shared/*.rs` and `tests/*.rs`), which run against the stack deployed on
//! LocalStack by `make up`: they call its API over HTTPS and read what it stored with the SDK.
//!
//! | module         | what it gives                                                       |
//! |----------------|---------------------------------------------------------------------|
//! | [`stack`]      | [`Stack`]: its outputs, SDK clients, `invoke`                       |
//! | [`http`]       | `Stack::call` and variants, `get`; [`ApiResponse`]; [`query_value`] |
//! | [`fixtures`]   | fresh skus, e-mails, ids, keys; `create_product`                    |
//! | [`accounts`]   | sessions, accounts, [`Shopper`], the demo admin, cart lines         |
//! | [`orders`]     | checkout, orders, `wait_for_order`, stock and its invariant         |
//! | [`payments`]   | the ledger ([`LedgerEntry`]), the payment provider's records        |
//! | [`workflow`]   | checkout executions: history, states, task failures                 |
//! | [`events`]     | [`envelope`], publishing, what [`CONSUMERS`] recorded               |
//! | [`media`]      | image uploads (presigned PUT), the bucket, image records, [`MediaCapture`] |
//! | [`queues`]     | queue depth, peeking, FIFO sends, [`make_redrive`]                  |
//! | [`functions`]  | a function's environment, read and replaced (breaking it on purpose) |
//! | [`logs`]       | the functions' JSON log lines, found and counted                    |
//! | [`poll`]       | [`eventually`]                                                      |
//! | [`attributes`] | item attributes: [`number`], [`text`]                               |
//!
//! Everything is re-exported here, so tests `use shop_tests::{Stack, unique_sku, ...}`.
//!
//! # Needs LocalStack: run by `make integration-test` only
//!
//! One mechanism, no `#[ignore]`: the `shop-tests` crate as a whole is the LocalStack suite.
//! `make unit-test` runs the workspace's `--lib --bins` tests only; `make integration-test`
//! (part of `make test`, which runs `make up` first) runs it with the environment of
//! `infra/local/env.sh` (SDK endpoint and dummy credentials for LocalStack) and
//! `SHOP_STACK_OUTPUTS` set to the outputs file `make up` writes (`.local/stack-outputs.json`).
//! Every test starts with [`Stack::load`], which panics when `SHOP_STACK_OUTPUTS` is unset or
//! its file unreadable, saying to run `make up` first: run outside `make integration-test`
//! (e.g. by `cargo test --workspace`), the tests fail at once rather than pass having checked
//! nothing. One file by hand, from the repository root with the stack up:
//!
//! ```text
//! . infra/local/env.sh && export SHOP_STACK_OUTPUTS=$PWD/.local/stack-outputs.json
//! F=--features=shop-core/fakes,shop-core/schemas  # the Makefile's: nothing is compiled again
//! cargo test --workspace $F --test shared cart::   # one module of the shared binary
//! cargo test --workspace $F --test outage         # one of the binaries that change the stack
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code: fail loudly

pub mod accounts;
pub mod attributes;
pub mod events;
pub mod fixtures;
pub mod functions;
pub mod http;
pub mod logs;
pub mod media;
pub mod orders;
pub mod payments;
pub mod poll;
pub mod queues;
pub mod stack;
pub mod workflow;

pub use accounts::{ADMIN_EMAIL, ADMIN_PASSWORD, Shopper, token_key};
pub use attributes::{number, text};
pub use events::{CONSUMERS, envelope};
pub use fixtures::{
    now_epoch_millis, now_epoch_seconds, random_token, unique_email, unique_id, unique_key,
    unique_sku, unique_skus,
};
pub use http::{ApiResponse, query_value};
pub use logs::LogLine;
pub use media::MediaCapture;
pub use orders::{SETTLED, TERMINAL, order_id_of, units_of};
pub use payments::LedgerEntry;
pub use poll::eventually;
pub use queues::make_redrive;
pub use stack::Stack;
