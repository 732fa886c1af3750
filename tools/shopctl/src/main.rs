//! `shopctl`: operator commands against the deployed tables.
//!
//! ```text
//! shopctl seed --products-table <name> [--file infra/seed/catalog.json] [--users-table <name>]
//! ```
//! Upserts every product of the file (so running it twice gives the same state, and stock is
//! reset to the file's values). With `--users-table`, also creates (or resets) the demo
//! accounts `demo@shop.local` / `demo-password` and `admin@shop.local` / `admin-password`
//! (role `admin`): only against a local endpoint (`AWS_ENDPOINT_URL` on localhost), never
//! against AWS. Uses the normal AWS SDK environment (`AWS_REGION`,
//! `AWS_ENDPOINT_URL` for LocalStack, credentials).
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
use shop_core::store::StoreError;

const USAGE: &str = "usage: shopctl seed --products-table <name> [--file infra/seed/catalog.json] [--users-table <name>]";
const DEFAULT_CATALOG: &str = "infra/seed/catalog.json";

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
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Seed {
        products_table: String,
        file: PathBuf,
        users_table: Option<String>,
    },
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, CliError> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("seed") => {}
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some(other) => return Err(CliError::Usage(format!("unknown command {other:?}"))),
        None => return Err(CliError::Usage("missing command".to_owned())),
    }
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

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Help => println!("{USAGE}"),
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
    Ok(())
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
    let result = match parse_args(std::env::args().skip(1)) {
        Ok(command) => run(command).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shopctl: {err}");
            if matches!(err, CliError::Usage(_)) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
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
