//! `shopctl`: operator commands against the deployed tables.
//!
//! ```text
//! shopctl seed --products-table <name> [--file infra/seed/catalog.json] [--users-table <name>]
//! shopctl reconcile --check --products-table <name> --orders-table <name>
//!     --payments-table <name> --ledger-table <name> [--reservations-table <name>]
//!     [--analytics --analytics-table <name>] [--stuck-after <s>] [--approval-timeout <s>]
//!     [--cancel-window <s>] [--grace <s>]
//! shopctl trace --order <id> --outputs <stack-outputs.json>
//! shopctl partner-key create --name <partner> [--stack-outputs <file> | --usage-plan <id>]
//! shopctl partner-key list [--stack-outputs <file> | --usage-plan <id>]
//! shopctl partner-key revoke --id <key id> [--stack-outputs <file> | --usage-plan <id>]
//! ```
//!
//! `seed` upserts every product of the file (so running it twice gives the same state, and
//! stock is reset to the file's values). With `--users-table`, also creates (or resets) the
//! demo accounts `demo@shop.local` / `demo-password` and `admin@shop.local` /
//! `admin-password` (role `admin`): only against a local endpoint (`AWS_ENDPOINT_URL` on
//! localhost), never against AWS.
//!
//! `reconcile --check` reads the tables (Scans only, never a write) and checks the invariants
//! of [`shop_core::reconcile`] (stock, money, ledger, liveness; analytics with `--analytics`).
//! It prints one line per violation and a one-line summary on stdout, what it skipped as
//! `note:` lines on stderr. Exit status: 0 every invariant holds, 1 at least one violation,
//! 2 usage error, 3 a table could not be read. `--check` is required: the command only ever
//! reports, and the flag keeps a future repair mode from being one typo away.
//! Without `--reservations-table` (a stack that predates the table) the stock invariant is
//! not checked. The durations default to the template's defaults; `make reconcile` passes the
//! stack's.
//!
//! `trace` prints one order's journey in time order (the API request, every state of each of
//! the order's workflow runs — the EXPRESS checkout runs from their log group, the STANDARD
//! approval run from its history, the cancel runs —, each event published and each consumer that processed it, the ledger
//! entries, the notifications) and then what it could not find; see [`shopctl::trace`]. The
//! outputs file names the tables, the state machine and the functions: `make trace` passes
//! `.local/stack-outputs.json`, or with `TARGET=aws` the CloudFormation stack's outputs.
//! Exit status: 0 traced, 1 no such order (or unreadable outputs), 2 usage error, 3 the orders
//! table could not be read.
//!
//! `partner-key` manages the API keys of the partner usage plan (`GET /partner/products`; see
//! [`shopctl::partner`]): `create` makes an enabled key `partner-<name>`, adds it to the plan
//! and prints `id`, `name` and `value` lines on stdout — the value (the secret the partner
//! sends in `x-api-key`) only there and only then; `list` prints the plan's key ids and names;
//! `revoke` takes a key of the plan out of it and deletes it. The plan is the stack output
//! `PartnerUsagePlanId` of `--stack-outputs` (default `.local/stack-outputs.json`), or
//! `--usage-plan`. Exit status: 0 done, 1 failed, 2 usage error.
//!
//! `replay` (stored events to one consumer's queue; a dry run without `--yes`) and `rebuild
//! analytics` (the projection recomputed into a new table and compared): see
//! [`shopctl::replay::cli`].
//!
//! All use the normal AWS SDK environment (`AWS_REGION`, `AWS_ENDPOINT_URL` for LocalStack,
//! credentials).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool talks to its terminal"
)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use shop_core::catalog::Product;
use shop_core::catalog::{DynamoProductStore, ProductStore};
use shop_core::reconcile::{CheckConfig, Tables};
use shop_core::store::StoreError;
use shopctl::partner::{self, ApiGatewayKeys, PartnerKeyError, PartnerName};
use shopctl::trace::{Clients, Targets, TraceError};

const USAGE: &str = "usage: shopctl seed --products-table <name> [--file infra/seed/catalog.json] [--users-table <name>]
       shopctl reconcile --check --products-table <name> --orders-table <name> --payments-table <name>
           --ledger-table <name> [--reservations-table <name>] [--analytics --analytics-table <name>]
           [--stuck-after <seconds>] [--approval-timeout <seconds>] [--cancel-window <seconds>] [--grace <seconds>]
       shopctl trace --order <id> --outputs <stack-outputs.json>
       shopctl partner-key create --name <partner> [--stack-outputs <file> | --usage-plan <id>]
       shopctl partner-key list [--stack-outputs <file> | --usage-plan <id>]
       shopctl partner-key revoke --id <key id> [--stack-outputs <file> | --usage-plan <id>]
       shopctl replay … | shopctl rebuild analytics …  (shopctl replay --help)";
const DEFAULT_CATALOG: &str = "infra/seed/catalog.json";
/// Where `make up` writes the local stack's outputs (`partner-key`'s default).
const DEFAULT_OUTPUTS: &str = ".local/stack-outputs.json";

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}\n{USAGE}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid catalog: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: sku {sku} appears more than once")]
    DuplicateSku { path: PathBuf, sku: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("demo users are for local stacks only: AWS_ENDPOINT_URL must be a localhost URL")]
    NotLocal,
    #[error("seeding demo users failed: {0}")]
    Users(#[from] shop_core::auth::SeedError),
    #[error("cannot read the tables: {0}")]
    Tables(StoreError),
    #[error("cannot read the stack outputs {path}: {reason}")]
    Outputs { path: PathBuf, reason: String },
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Partner(#[from] PartnerKeyError),
}

impl CliError {
    /// The process's exit status for this error (see the module doc).
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_)
            | Self::Partner(PartnerKeyError::InvalidName(_) | PartnerKeyError::InvalidKeyId(_)) => {
                ExitCode::from(2)
            }
            Self::Tables(_) | Self::Trace(TraceError::Orders(_)) => ExitCode::from(3),
            _ => ExitCode::FAILURE,
        }
    }
}

/// How a command that ran ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    /// `reconcile` found violations (exit status 1).
    Violations,
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Seed {
        products_table: String,
        file: PathBuf,
        users_table: Option<String>,
    },
    Reconcile(ReconcileArgs),
    Trace {
        order_id: String,
        outputs: PathBuf,
    },
    PartnerKey {
        action: PartnerAction,
        plan: PlanSource,
    },
    Help,
}

/// What `partner-key` does.
#[derive(Debug, PartialEq, Eq)]
enum PartnerAction {
    Create(PartnerName),
    List,
    Revoke(String),
}

/// Where the partner usage plan's id comes from.
#[derive(Debug, PartialEq, Eq)]
enum PlanSource {
    Outputs(PathBuf),
    Id(String),
}

/// `reconcile --check`'s options; durations in seconds.
#[derive(Debug, PartialEq, Eq)]
struct ReconcileArgs {
    tables: Tables,
    stuck_after: i64,
    approval_timeout: i64,
    cancel_window: i64,
    grace: i64,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, CliError> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("seed") => parse_seed(args),
        Some("reconcile") => parse_reconcile(args),
        Some("trace") => parse_trace(args),
        Some("partner-key") => parse_partner_key(args),
        Some("-h" | "--help" | "help") => Ok(Command::Help),
        Some(other) => Err(CliError::Usage(format!("unknown command {other:?}"))),
        None => Err(CliError::Usage("missing command".to_owned())),
    }
}

fn parse_seed(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut products_table = None;
    let mut file = PathBuf::from(DEFAULT_CATALOG);
    let mut users_table = None;
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--products-table" => products_table = Some(value()?),
            "--file" => file = PathBuf::from(value()?),
            "--users-table" => users_table = Some(value()?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(CliError::Usage(format!("unknown option {other:?}"))),
        }
    }
    let products_table =
        products_table.ok_or_else(|| CliError::Usage("--products-table is required".to_owned()))?;
    Ok(Command::Seed {
        products_table,
        file,
        users_table,
    })
}

fn parse_trace(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let (mut order_id, mut outputs) = (None, None);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--order" => order_id = Some(value()?),
            "--outputs" => outputs = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(CliError::Usage(format!("unknown option {other:?}"))),
        }
    }
    Ok(Command::Trace {
        order_id: order_id
            .ok_or_else(|| CliError::Usage("--order is required (ORDER=<id>)".to_owned()))?,
        outputs: outputs.ok_or_else(|| CliError::Usage("--outputs is required".to_owned()))?,
    })
}

fn parse_partner_key(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let action = args.next();
    let (mut name, mut id, mut outputs, mut plan) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--name" => name = Some(value()?),
            "--id" => id = Some(value()?),
            "--stack-outputs" => outputs = Some(PathBuf::from(value()?)),
            "--usage-plan" => plan = Some(value()?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(CliError::Usage(format!("unknown option {other:?}"))),
        }
    }
    let plan = match (outputs, plan) {
        (Some(_), Some(_)) => {
            return Err(CliError::Usage(
                "give --stack-outputs or --usage-plan, not both".to_owned(),
            ));
        }
        (_, Some(plan)) => PlanSource::Id(plan),
        (outputs, None) => {
            PlanSource::Outputs(outputs.unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUTS)))
        }
    };
    let action = match (action.as_deref(), name, id) {
        (Some("create"), Some(name), None) => PartnerAction::Create(PartnerName::parse(&name)?),
        (Some("create"), _, _) => {
            return Err(CliError::Usage(
                "partner-key create takes --name <partner>".to_owned(),
            ));
        }
        (Some("list"), None, None) => PartnerAction::List,
        (Some("revoke"), None, Some(id)) => PartnerAction::Revoke(partner::parse_key_id(&id)?),
        (Some("revoke"), _, _) => {
            return Err(CliError::Usage(
                "partner-key revoke takes --id <key id>".to_owned(),
            ));
        }
        (Some(other), _, _) => {
            return Err(CliError::Usage(format!(
                "partner-key {other:?}: expected create, list or revoke and their options"
            )));
        }
        (None, _, _) => {
            return Err(CliError::Usage(
                "partner-key needs create, list or revoke".to_owned(),
            ));
        }
    };
    Ok(Command::PartnerKey { action, plan })
}

/// Runs a `partner-key` command against API Gateway.
async fn partner_key(action: PartnerAction, plan: PlanSource) -> Result<Outcome, CliError> {
    let plan = match plan {
        PlanSource::Id(id) => id,
        PlanSource::Outputs(path) => partner::plan_id_from_outputs(&path)?,
    };
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let keys = ApiGatewayKeys::new(aws_sdk_apigateway::Client::new(&sdk_config));
    match action {
        PartnerAction::Create(name) => {
            let key = partner::create(&keys, &plan, &name).await?;
            // The only place the value is ever shown.
            println!("id {}\nname {}\nvalue {}", key.id, key.name, key.value);
            eprintln!(
                "partner {}: key {} in usage plan {plan}; hand the value over now, it is not shown again",
                name.as_str(),
                key.id
            );
        }
        PartnerAction::List => {
            let found = partner::list(&keys, &plan).await?;
            for key in &found {
                println!("{} {}", key.id, key.name);
            }
            eprintln!("{} key(s) in usage plan {plan}", found.len());
        }
        PartnerAction::Revoke(id) => {
            let key = partner::revoke(&keys, &plan, &id).await?;
            println!("revoked {} {}", key.id, key.name);
        }
    }
    Ok(Outcome::Done)
}

/// Traces one order (`shopctl::trace`) and prints the journey.
async fn trace(order_id: &str, outputs: PathBuf) -> Result<Outcome, CliError> {
    let read = |reason: String| CliError::Outputs {
        path: outputs.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&outputs).map_err(|e| read(e.to_string()))?;
    let outputs: std::collections::HashMap<String, String> =
        serde_json::from_str(&text).map_err(|e| read(e.to_string()))?;
    let targets = Targets::from_outputs(&outputs)?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let journey = shopctl::trace::trace(&Clients::new(&sdk_config), &targets, order_id).await?;
    print!("{journey}");
    Ok(Outcome::Done)
}

fn parse_reconcile(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let mut check = false;
    let mut analytics = false;
    let (mut products, mut reservations, mut orders) = (None, None, None);
    let (mut payments, mut ledger, mut analytics_table) = (None, None, None);
    let mut stuck_after = shop_core::reconcile::DEFAULT_STUCK_AFTER_SECONDS;
    let mut approval_timeout = shop_core::reconcile::DEFAULT_APPROVAL_TIMEOUT_SECONDS;
    let mut cancel_window = shop_core::reconcile::DEFAULT_CANCEL_WINDOW_SECONDS;
    let mut grace = shop_core::reconcile::DEFAULT_GRACE_SECONDS;
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        };
        let seconds = |value: String| {
            value
                .parse::<i64>()
                .ok()
                .filter(|s| *s >= 0)
                .ok_or_else(|| {
                    CliError::Usage(format!("{flag} wants whole seconds, not {value:?}"))
                })
        };
        match flag.as_str() {
            "--check" => check = true,
            "--analytics" => analytics = true,
            "--products-table" => products = Some(value()?),
            "--reservations-table" => reservations = Some(value()?),
            "--orders-table" => orders = Some(value()?),
            "--payments-table" => payments = Some(value()?),
            "--ledger-table" => ledger = Some(value()?),
            "--analytics-table" => analytics_table = Some(value()?),
            "--stuck-after" => stuck_after = seconds(value()?)?,
            "--approval-timeout" => approval_timeout = seconds(value()?)?,
            "--cancel-window" => cancel_window = seconds(value()?)?,
            "--grace" => grace = seconds(value()?)?,
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(CliError::Usage(format!("unknown option {other:?}"))),
        }
    }
    if !check {
        return Err(CliError::Usage(
            "reconcile only checks (it never repairs): pass --check".to_owned(),
        ));
    }
    let required = |table: Option<String>, flag: &str| {
        table.ok_or_else(|| CliError::Usage(format!("{flag} is required")))
    };
    // The analytics table alone does not turn the check on: `make reconcile` always passes it.
    let analytics = match (analytics, analytics_table) {
        (true, None) => {
            return Err(CliError::Usage(
                "--analytics needs --analytics-table".to_owned(),
            ));
        }
        (true, table) => table,
        (false, _) => None,
    };
    Ok(Command::Reconcile(ReconcileArgs {
        tables: Tables {
            products: required(products, "--products-table")?,
            reservations,
            orders: required(orders, "--orders-table")?,
            payments: required(payments, "--payments-table")?,
            ledger: required(ledger, "--ledger-table")?,
            analytics,
        },
        stuck_after,
        approval_timeout,
        cancel_window,
        grace,
    }))
}

fn load_catalog(path: PathBuf) -> Result<Vec<Product>, CliError> {
    let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })?;
    let products: Vec<Product> = serde_json::from_str(&text).map_err(|source| CliError::Parse {
        path: path.clone(),
        source,
    })?;
    let mut seen = HashSet::new();
    if let Some(dup) = products.iter().find(|p| !seen.insert(p.sku.clone())) {
        return Err(CliError::DuplicateSku {
            path,
            sku: dup.sku.to_string(),
        });
    }
    Ok(products)
}

async fn seed(store: &impl ProductStore, products: &[Product]) -> Result<(), CliError> {
    for product in products {
        store.put(product).await?;
    }
    Ok(())
}

/// Reads the tables, checks them and prints the report; whether anything was violated.
async fn reconcile(args: ReconcileArgs) -> Result<Outcome, CliError> {
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config);
    let snapshot = shop_core::reconcile::read_snapshot(&client, &args.tables)
        .await
        .map_err(CliError::Tables)?;
    let now_ms = shop_core::orders::now_millis(&lambda_kit::clock::Clock::System);
    let config = CheckConfig {
        stuck_after_seconds: args.stuck_after,
        approval_timeout_seconds: args.approval_timeout,
        cancel_window_seconds: args.cancel_window,
        grace_seconds: args.grace,
        ..CheckConfig::at(now_ms)
    };
    let report = shop_core::reconcile::check(&snapshot, &config);
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    for violation in &report.violations {
        println!("{violation}");
    }
    println!("{}", report.summary);
    Ok(if report.violations.is_empty() {
        Outcome::Done
    } else {
        Outcome::Violations
    })
}

async fn run(command: Command) -> Result<Outcome, CliError> {
    match command {
        Command::Help => println!("{USAGE}"),
        Command::Reconcile(args) => return reconcile(args).await,
        Command::Trace { order_id, outputs } => return trace(&order_id, outputs).await,
        Command::PartnerKey { action, plan } => return partner_key(action, plan).await,
        Command::Seed {
            products_table,
            file,
            users_table,
        } => {
            if users_table.is_some() && !is_local_endpoint(std::env::var("AWS_ENDPOINT_URL").ok()) {
                return Err(CliError::NotLocal);
            }
            let products = load_catalog(file.clone())?;
            let sdk_config = lambda_kit::aws::sdk_config().await;
            let store = DynamoProductStore::new(
                aws_sdk_dynamodb::Client::new(&sdk_config),
                &products_table,
            );
            seed(&store, &products).await?;
            println!(
                "seeded {} products from {} into {products_table}",
                products.len(),
                file.display()
            );
            if let Some(users_table) = users_table {
                let users = shop_core::auth::DynamoUserStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk_config),
                    &users_table,
                );
                let now = lambda_kit::clock::Clock::System.now();
                let seeded = shop_core::auth::seed_demo_users(
                    &users,
                    &shop_core::auth::PasswordHasher::default(),
                    now,
                )
                .await?;
                for user in seeded {
                    println!("demo user {} ({}) in {users_table}", user.email, user.role);
                }
            }
        }
    }
    Ok(Outcome::Done)
}

/// Whether `endpoint` is a LocalStack-style URL on this machine.
fn is_local_endpoint(endpoint: Option<String>) -> bool {
    endpoint.is_some_and(|url| {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap_or_default();
        ["localhost", "127.0.0.1", "[::1]"].iter().any(|host| {
            rest == *host
                || rest.starts_with(&format!("{host}:"))
                || rest.starts_with(&format!("{host}/"))
        })
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `replay` and `rebuild analytics`: their command line is shopctl::replay::cli's.
    if let Some(code) = shopctl::replay::cli::main(&args).await {
        return code;
    }
    let result = match parse_args(args) {
        Ok(command) => run(command).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Violations) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("shopctl: {err}");
            err.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use shop_core::catalog::InMemoryProductStore;

    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_the_trace_command() {
        let cmd = parse_args(args(&["trace", "--order", "o-1", "--outputs", "out.json"])).ok();
        assert_eq!(
            cmd,
            Some(Command::Trace {
                order_id: "o-1".into(),
                outputs: "out.json".into(),
            })
        );
        assert!(matches!(
            parse_args(args(&["trace", "--outputs", "out.json"])),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            parse_args(args(&["trace", "--order", "", "--outputs", "o"])),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn parses_the_partner_key_commands() {
        assert_eq!(
            parse_args(args(&["partner-key", "create", "--name", "acme"])).ok(),
            Some(Command::PartnerKey {
                action: PartnerAction::Create(PartnerName::parse("acme").unwrap()),
                plan: PlanSource::Outputs(DEFAULT_OUTPUTS.into()),
            })
        );
        assert_eq!(
            parse_args(args(&["partner-key", "list", "--stack-outputs", "o.json"])).ok(),
            Some(Command::PartnerKey {
                action: PartnerAction::List,
                plan: PlanSource::Outputs("o.json".into()),
            })
        );
        assert_eq!(
            parse_args(args(&[
                "partner-key",
                "revoke",
                "--id",
                "abc123",
                "--usage-plan",
                "up1"
            ]))
            .ok(),
            Some(Command::PartnerKey {
                action: PartnerAction::Revoke("abc123".into()),
                plan: PlanSource::Id("up1".into()),
            })
        );
        for bad in [
            &["partner-key"][..],
            &["partner-key", "rotate"],
            &["partner-key", "create"],
            &["partner-key", "create", "--name", ""],
            &["partner-key", "create", "--name", "a", "--id", "b"],
            &["partner-key", "list", "--name", "a"],
            &["partner-key", "revoke"],
            &[
                "partner-key",
                "list",
                "--stack-outputs",
                "o",
                "--usage-plan",
                "p",
            ],
        ] {
            assert!(
                matches!(parse_args(args(bad)), Err(CliError::Usage(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_args(args(&["partner-key", "create", "--name", "a b"])),
            Err(CliError::Partner(PartnerKeyError::InvalidName(_)))
        ));
        assert!(matches!(
            parse_args(args(&["partner-key", "revoke", "--id", "../x"])),
            Err(CliError::Partner(PartnerKeyError::InvalidKeyId(_)))
        ));
    }

    #[test]
    fn parses_the_seed_command() {
        let cmd = parse_args(args(&["seed", "--products-table", "t"])).ok();
        assert_eq!(
            cmd,
            Some(Command::Seed {
                products_table: "t".into(),
                file: DEFAULT_CATALOG.into(),
                users_table: None,
            })
        );
        let cmd = parse_args(args(&["seed", "--file", "x.json", "--products-table", "t"])).ok();
        assert_eq!(
            cmd,
            Some(Command::Seed {
                products_table: "t".into(),
                file: "x.json".into(),
                users_table: None,
            })
        );
        let cmd = parse_args(args(&[
            "seed",
            "--products-table",
            "t",
            "--users-table",
            "u",
        ]))
        .ok();
        assert_eq!(
            cmd,
            Some(Command::Seed {
                products_table: "t".into(),
                file: DEFAULT_CATALOG.into(),
                users_table: Some("u".into()),
            })
        );
        for bad in [
            &[][..],
            &["seed"],
            &["seed", "--products-table"],
            &["seed", "--nope", "x"],
            &["drop"],
        ] {
            assert!(
                matches!(parse_args(args(bad)), Err(CliError::Usage(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parses_the_reconcile_command() {
        let base = [
            "reconcile",
            "--check",
            "--products-table",
            "p",
            "--orders-table",
            "o",
            "--payments-table",
            "pay",
            "--ledger-table",
            "l",
        ];
        let tables = Tables {
            products: "p".into(),
            reservations: None,
            orders: "o".into(),
            payments: "pay".into(),
            ledger: "l".into(),
            analytics: None,
        };
        assert_eq!(
            parse_args(args(&base)).ok(),
            Some(Command::Reconcile(ReconcileArgs {
                tables,
                stuck_after: 900,
                approval_timeout: 86_400,
                cancel_window: 900,
                grace: 60,
            }))
        );
        // `make reconcile` always passes the analytics table; only --analytics reads it.
        let mut full = base.to_vec();
        full.extend([
            "--reservations-table",
            "r",
            "--analytics-table",
            "a",
            "--stuck-after",
            "60",
            "--approval-timeout",
            "20",
            "--cancel-window",
            "8",
            "--grace",
            "0",
        ]);
        let Ok(Command::Reconcile(parsed)) = parse_args(args(&full)) else {
            panic!("{full:?}")
        };
        assert_eq!(
            (
                parsed.tables.reservations.as_deref(),
                parsed.tables.analytics.as_deref()
            ),
            (Some("r"), None)
        );
        assert_eq!(
            (
                parsed.stuck_after,
                parsed.approval_timeout,
                parsed.cancel_window,
                parsed.grace
            ),
            (60, 20, 8, 0)
        );
        full.push("--analytics");
        let Ok(Command::Reconcile(parsed)) = parse_args(args(&full)) else {
            panic!("{full:?}")
        };
        assert_eq!(parsed.tables.analytics.as_deref(), Some("a"));

        let without = |flag: &str| {
            let mut list = base.to_vec();
            if let Some(at) = list.iter().position(|a| *a == flag) {
                list.drain(at..(at + if flag == "--check" { 1 } else { 2 }));
            }
            list
        };
        let mut bad: Vec<Vec<&str>> = ["--check", "--products-table", "--orders-table"]
            .iter()
            .map(|flag| without(flag))
            .collect();
        for extra in [
            &["--analytics"][..],
            &["--stuck-after", "-1"],
            &["--stuck-after", "15m"],
            &["--grace"],
            &["--reservations-table", ""],
            &["--fix"],
        ] {
            let mut list = base.to_vec();
            list.extend(extra);
            bad.push(list);
        }
        for list in bad {
            assert!(
                matches!(parse_args(args(&list)), Err(CliError::Usage(_))),
                "{list:?}"
            );
        }
    }

    #[test]
    fn exit_codes_tell_a_violation_from_a_failure() {
        assert_eq!(
            CliError::Usage(String::new()).exit_code(),
            ExitCode::from(2)
        );
        let backend = StoreError::Backend {
            operation: "Scan orders",
            message: "ResourceNotFoundException".into(),
        };
        assert_eq!(CliError::Tables(backend).exit_code(), ExitCode::from(3));
        assert_eq!(CliError::NotLocal.exit_code(), ExitCode::FAILURE);
    }

    #[test]
    fn demo_users_only_for_local_endpoints() {
        for local in [
            "http://127.0.0.1:4566",
            "http://localhost:4566",
            "http://localhost",
        ] {
            assert!(is_local_endpoint(Some(local.to_owned())), "{local}");
        }
        for remote in [
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://localhost.evil.com",
            "",
        ] {
            assert!(!is_local_endpoint(Some(remote.to_owned())), "{remote}");
        }
        assert!(!is_local_endpoint(None));
    }

    #[tokio::test]
    async fn the_demo_catalog_loads_and_seeding_is_repeatable() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/seed/catalog.json");
        let products = load_catalog(path);
        let Ok(products) = products else {
            panic!("{products:?}")
        };
        assert!(
            products.len() > 20,
            "enough products that paging is visible"
        );
        assert!(
            products
                .iter()
                .all(|p| p.price.currency == shop_core::catalog::Currency::EUR
                    && p.price.amount_minor > 0)
        );
        let store = InMemoryProductStore::default();
        assert!(seed(&store, &products).await.is_ok());
        let mut changed = products[0].clone();
        changed.stock = 0;
        assert!(store.put(&changed).await.is_ok());
        assert!(seed(&store, &products).await.is_ok());
        assert_eq!(
            store.get(&products[0].sku).await.ok().flatten(),
            Some(products[0].clone()),
            "stock reset"
        );
        let page = store.list(100, None).await.map(|p| p.items.len()).ok();
        assert_eq!(page, Some(products.len()));
    }
}
