//! The command lines of `shopctl replay` and `shopctl rebuild analytics`:
//!
//! ```text
//! shopctl replay --outputs <stack-outputs.json> --consumer <name> --from <time> [--to <time>]
//!     [--type <eventType>]... [--yes [--include-forgotten]]
//! shopctl rebuild analytics --outputs <stack-outputs.json> [--table <name>]
//!     [--from <time> [--to <time>]]
//! ```
//!
//! `replay` reads the audit table (the event store) and sends the events of the window
//! (`--from` included, `--to` excluded, default: no end; RFC 3339 or a date, UTC) that the
//! consumer's subscription delivers (or only the `--type`s given, which it must subscribe
//! to) to that consumer's queue only, never to the topic, ordered by event time then id, in
//! batches of 10 ([`shop_core::replay`]). **Without `--yes` it is a dry run**: it prints the
//! count per event type and sends nothing. With `--yes` it prints the same, then sends;
//! events older than the consumers' 15-day idempotency memory are refused unless
//! `--include-forgotten` (they would be processed again). Exit status: 0 dry run or
//! everything sent, 1 some events not sent (listed), 2 usage error (an unknown consumer or
//! event type, a type the consumer does not subscribe to, forgotten events without
//! `--include-forgotten`), 3 the audit table or the outputs could not be read.
//!
//! `rebuild analytics` recomputes the analytics projection from the audit table with the
//! analytics consumer's own code, writes it into a new table (`--table`, default
//! `<live table>-rebuild-<UTC time>`; never an existing one) and prints the counters that
//! differ from the live table (over the whole days of `--from`/`--to` when given). Exit status:
//! 0 equal, 1 different, 2 usage error, 3 a table or the outputs could not be read, or the
//! new table not created or written.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool talks to its terminal"
)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use shop_core::replay::{ReplayError, ReplayRequest, Window, parse_time};

/// The usage lines of both commands.
pub const USAGE: &str = "       shopctl replay --outputs <stack-outputs.json> --consumer <name> --from <time> [--to <time>]
           [--type <eventType>]... [--yes [--include-forgotten]]
       shopctl rebuild analytics --outputs <stack-outputs.json> [--table <name>] [--from <time> [--to <time>]]";

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments.
    #[error("{0}\nusage:\n{USAGE}")]
    Usage(String),
    /// The outputs file.
    #[error("cannot read the stack outputs {path}: {reason}")]
    Outputs {
        /// Its path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The request, or the tables.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// Events the consumer may have forgotten, not allowed.
    #[error(
        "{0} events are older than the consumers' idempotency memory (15 days): they would be \
         processed again; narrow --from, or pass --include-forgotten if that is what you want"
    )]
    Forgotten(usize),
}

impl CliError {
    /// The exit status (see the module doc).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_)
            | Self::Forgotten(_)
            | Self::Replay(
                ReplayError::UnknownConsumer { .. }
                | ReplayError::UnknownEventType(_)
                | ReplayError::NotSubscribed { .. }
                | ReplayError::BadTime(_)
                | ReplayError::EmptyWindow { .. },
            ) => ExitCode::from(2),
            Self::Outputs { .. }
            | Self::Replay(ReplayError::Store(_) | ReplayError::MissingOutput(_)) => {
                ExitCode::from(3)
            }
        }
    }
}

/// A parsed command.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `replay`.
    Replay(ReplayArgs),
    /// `rebuild analytics`.
    Rebuild(RebuildArgs),
    /// `--help`.
    Help,
}

/// `replay`'s options.
#[derive(Debug, PartialEq, Eq)]
pub struct ReplayArgs {
    /// The stack outputs file.
    pub outputs: PathBuf,
    /// What to replay.
    pub request: ReplayRequest,
    /// `--yes`: send (else a dry run).
    pub send: bool,
    /// `--include-forgotten`.
    pub include_forgotten: bool,
}

/// `rebuild analytics`'s options.
#[derive(Debug, PartialEq, Eq)]
pub struct RebuildArgs {
    /// The stack outputs file.
    pub outputs: PathBuf,
    /// The new table's name, if given.
    pub table: Option<String>,
    /// The days compared (`None`: every day).
    pub window: Option<Window>,
}

/// Parses `args` (the command name first) if they are one of these commands; `None` when the
/// command is another one.
pub fn parse(args: &[String]) -> Option<Result<Command, CliError>> {
    let (first, rest) = args.split_first()?;
    let rest = rest.iter().cloned();
    match first.as_str() {
        "replay" => Some(parse_replay(rest)),
        "rebuild" => Some(parse_rebuild(rest)),
        _ => None,
    }
}

fn parse_replay(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    let (mut outputs, mut consumer, mut from, mut to) = (None, None, None, None);
    let mut types = Vec::new();
    let (mut send, mut include_forgotten) = (false, false);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--outputs" => outputs = Some(PathBuf::from(value()?)),
            "--consumer" => consumer = Some(value()?),
            "--from" => from = Some(parse_time(&value()?)?),
            "--to" => to = Some(parse_time(&value()?)?),
            "--type" => types.push(value()?),
            "--yes" => send = true,
            "--include-forgotten" => include_forgotten = true,
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(CliError::Usage(format!("unknown option {other:?}"))),
        }
    }
    let outputs = outputs.ok_or_else(|| CliError::Usage("--outputs is required".to_owned()))?;
    let consumer = consumer.ok_or_else(|| CliError::Usage("--consumer is required".to_owned()))?;
    let from = from.ok_or_else(|| CliError::Usage("--from is required".to_owned()))?;
    if include_forgotten && !send {
        return Err(CliError::Usage(
            "--include-forgotten only goes with --yes".to_owned(),
        ));
    }
    let request = ReplayRequest::new(&consumer, Window::new(from, to)?, types)?;
    Ok(Command::Replay(ReplayArgs {
        outputs,
        request,
        send,
        include_forgotten,
    }))
}

fn parse_rebuild(mut args: impl Iterator<Item = String>) -> Result<Command, CliError> {
    match args.next().as_deref() {
        Some("analytics") => {}
        Some("-h" | "--help") => return Ok(Command::Help),
        Some(other) => {
            return Err(CliError::Usage(format!(
                "rebuild knows one projection, analytics, not {other:?}"
            )));
        }
        None => return Err(CliError::Usage("rebuild what? analytics".to_owned())),
    }
    let (mut outputs, mut table, mut from, mut to) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--outputs" => outputs = Some(PathBuf::from(value()?)),
            "--table" => table = Some(value()?),
            "--from" => from = Some(parse_time(&value()?)?),
            "--to" => to = Some(parse_time(&value()?)?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(CliError::Usage(format!("unknown option {other:?}"))),
        }
    }
    let window = match (from, to) {
        (Some(from), to) => Some(Window::new(from, to)?),
        (None, None) => None,
        (None, Some(_)) => return Err(CliError::Usage("--to needs --from".to_owned())),
    };
    Ok(Command::Rebuild(RebuildArgs {
        outputs: outputs.ok_or_else(|| CliError::Usage("--outputs is required".to_owned()))?,
        table,
        window,
    }))
}

/// The stack outputs file, read.
fn read_outputs(path: &PathBuf) -> Result<HashMap<String, String>, CliError> {
    let read = |reason: String| CliError::Outputs {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| read(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| read(e.to_string()))
}

/// Runs a parsed command; `Ok(true)`: done (exit 0), `Ok(false)`: not everything sent, or a
/// difference found (exit 1).
pub async fn run(command: Command) -> Result<bool, CliError> {
    match command {
        Command::Help => {
            println!("usage:\n{USAGE}");
            Ok(true)
        }
        Command::Replay(args) => replay(args).await,
        Command::Rebuild(args) => rebuild(args).await,
    }
}

/// The dry run, and with `--yes` the replay itself.
async fn replay(args: ReplayArgs) -> Result<bool, CliError> {
    let targets = super::Targets::from_outputs(&read_outputs(&args.outputs)?)?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let now = lambda_kit::clock::Clock::System.now();
    let plan = super::plan_replay(&dynamodb, &targets, &args.request, now).await?;
    print!("{plan}");
    if !args.send {
        println!(
            "dry run: nothing sent (--yes sends these events to {})",
            plan.consumer
        );
        return Ok(true);
    }
    if plan.beyond_idempotency > 0 && !args.include_forgotten {
        return Err(CliError::Forgotten(plan.beyond_idempotency));
    }
    let sqs = aws_sdk_sqs::Client::new(&sdk_config);
    let report = super::send_replay(&sqs, &targets, &plan).await?;
    print!("{report}");
    Ok(report.not_sent.is_empty())
}

/// Rebuilds the analytics projection and prints the differences.
async fn rebuild(args: RebuildArgs) -> Result<bool, CliError> {
    let targets = super::Targets::from_outputs(&read_outputs(&args.outputs)?)?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let now = lambda_kit::clock::Clock::System.now();
    let report =
        super::rebuild_analytics(&dynamodb, &targets, args.table, args.window, now).await?;
    print!("{report}");
    Ok(report.equal())
}

/// `shopctl`'s entry for these commands: `None` when `args` are another command's, else the
/// exit status after running it (errors printed on stderr).
pub async fn main(args: &[String]) -> Option<ExitCode> {
    let result = match parse(args)? {
        Ok(command) => run(command).await,
        Err(err) => Err(err),
    };
    Some(match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("shopctl: {err}");
            err.exit_code()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn exit(list: &[&str]) -> Result<Command, ExitCode> {
        match parse(&args(list)) {
            Some(result) => result.map_err(|e| e.exit_code()),
            None => panic!("{list:?} is not replay or rebuild"),
        }
    }

    #[test]
    fn other_commands_are_left_to_main() {
        assert!(parse(&args(&["trace", "--order", "x"])).is_none());
        assert!(parse(&[]).is_none());
    }

    #[test]
    fn parses_the_replay_command() {
        let base = [
            "replay",
            "--outputs",
            "o.json",
            "--consumer",
            "analytics",
            "--from",
            "2026-12-01",
        ];
        let Ok(Command::Replay(parsed)) = exit(&base) else {
            panic!("{base:?}")
        };
        assert!(!parsed.send, "a dry run unless --yes");
        assert_eq!(parsed.request.consumer.name, "analytics");
        assert_eq!(parsed.request.window.to, None);
        let mut full = base.to_vec();
        full.extend([
            "--to",
            "2026-12-02T12:00:00Z",
            "--type",
            "LoginFailed",
            "--type",
            "OrderPlaced",
            "--yes",
        ]);
        let Ok(Command::Replay(parsed)) = exit(&full) else {
            panic!("{full:?}")
        };
        assert!(parsed.send && !parsed.include_forgotten);
        assert_eq!(parsed.request.types, ["LoginFailed", "OrderPlaced"]);

        for extra in [
            &["--type", "OrderShipped"][..],
            &["--type", "Nope"],
            &["--to", "2026-11-30"],
            &["--to", "soon"],
            &["--include-forgotten"],
            &["--fix"],
        ] {
            let mut list = base.to_vec();
            list.extend(extra);
            assert_eq!(exit(&list).err(), Some(ExitCode::from(2)), "{extra:?}");
        }
        for bad in [
            &["replay", "--consumer", "analytics", "--from", "2026-12-01"][..],
            &["replay", "--outputs", "o", "--from", "2026-12-01"],
            &["replay", "--outputs", "o", "--consumer", "analytics"],
            &[
                "replay",
                "--outputs",
                "o",
                "--consumer",
                "ledger",
                "--from",
                "2026-12-01",
            ],
        ] {
            assert_eq!(exit(bad).err(), Some(ExitCode::from(2)), "{bad:?}");
        }
    }

    #[test]
    fn parses_the_rebuild_command() {
        assert_eq!(
            exit(&["rebuild", "analytics", "--outputs", "o.json"]).ok(),
            Some(Command::Rebuild(RebuildArgs {
                outputs: "o.json".into(),
                table: None,
                window: None,
            }))
        );
        let Ok(Command::Rebuild(parsed)) = exit(&[
            "rebuild",
            "analytics",
            "--outputs",
            "o",
            "--table",
            "t",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
        ]) else {
            panic!("a full rebuild command")
        };
        assert_eq!(parsed.table.as_deref(), Some("t"));
        assert!(parsed.window.is_some_and(|w| w.covers_day("2026-12-01")));
        for bad in [
            &["rebuild"][..],
            &["rebuild", "orders", "--outputs", "o"],
            &["rebuild", "analytics"],
            &[
                "rebuild",
                "analytics",
                "--outputs",
                "o",
                "--to",
                "2026-12-02",
            ],
        ] {
            assert_eq!(exit(bad).err(), Some(ExitCode::from(2)), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_outputs_file_is_exit_3() {
        let err = CliError::Outputs {
            path: "nope.json".into(),
            reason: "not found".to_owned(),
        };
        assert_eq!(err.exit_code(), ExitCode::from(3));
    }
}
