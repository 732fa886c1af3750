//! The integration tests that share the stack as it is deployed: one test binary, so that
//! `cargo test` runs all of them side by side (`--test-threads`) instead of one file after
//! another — most of their time is spent waiting for workflows and queues, not computing.
//! Every test owns its products, users and orders, so they do not see each other's data.
//!
//! The tests that change the stack itself (a function's environment: faults injected, limits
//! lowered) are binaries of their own (`checkout_refund`, `login_throttle`, `outage`, `soak`)
//! and run alone, after these; so does `auth`, whose failed logins all come from this host's
//! one address and would trip the per-address rules (the login guard's, the fraud
//! detector's) for the other tests' logins. The one pair that runs side by side is `auth` and
//! `checkout_refund` (infra/scripts/integration-tests.sh): the fault the refund test injects
//! is in `payment`, which no `auth` test reaches. `no_secrets` runs last, over every log group
//! they filled.
//!
//! | module | what |
//! | --- | --- |
//! | `cart` | sessions and carts |
//! | `catalog` | products and paging |
//! | `checkout` | the checkout workflow end to end |
//! | `checkout_v2` | Express/Standard split, hand-over once, settlement waits, Parallel follow-ups and their repair |
//! | `events` | fan-out, filter policies, partial batch failures, DLQs, redrive |
//! | `orders` | listing, cancel, approval |
//! | `partner` | the partner catalog: API keys made by `shopctl partner-key`, 403s, the usage plan as deployed |
//! | `repair` | owed refunds and the repair path |
//! | `replay` | `shopctl replay` (a consumer catches up, idempotently) and `shopctl rebuild analytics` |
//! | `metrics` | EMF documents in the log groups |
//! | `trace` | `shopctl trace` |
//! | `round_trips` | AWS calls and sequential round trips of the hot routes |
//! | `https` | the API over verified HTTPS |
//! | `alarms` | every deployed alarm notifies the alarm topic |
//! | `images` | product images: uploads through presigned URLs, the three media consumers, hostile files, redeliveries, a failing consumer, deletes |
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod alarms;
mod cart;
mod catalog;
mod checkout;
mod checkout_v2;
mod events;
mod https;
mod images;
mod metrics;
mod orders;
mod partner;
mod repair;
mod replay;
mod round_trips;
mod trace;
