//! Fault injection for the AWS SDK on the local stack: a configured fraction of AWS calls fails
//! with the errors AWS really returns, or is slowed down.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`FAULTS_VAR`] (`LAMBDA_KIT_FAULTS`) | the spec, read at cold start by [`crate::aws::loader`] |
//! | [`FaultSpec`] | a parsed spec: [`FaultSpec::parse`], [`FaultSpec::decide`] |
//! | [`from_env`] / [`from_lookup`] | the spec, gated on a loopback endpoint ([`is_loopback_endpoint`]) |
//! | [`FaultInjectingClient`] | the SDK HTTP client that injects the faults |
//! | [`Fault`], [`Decision`], [`FaultSpecError`] | what a call gets; what is wrong with a spec |
//!
//! # The spec
//!
//! `LAMBDA_KIT_FAULTS="dynamodb=0.1:throttle,sns:Publish=0.05:5xx,sfn=0.1:timeout,*=latency:50ms"`
//!
//! ```text
//! spec      = rule *("," rule)            ; blanks around a rule are ignored
//! rule      = target "=" effect
//! target    = "*" | service | service ":" Operation
//! service   = the SDK's name of the service: dynamodb, sns, sfn, sqs, lambda … ([a-z0-9-]+)
//! Operation = the API's name of the operation: PutItem, Publish, StartExecution … ([A-Z][A-Za-z0-9]*)
//! effect    = fraction ":" fault
//!           | [fraction ":"] "latency:" duration ; without a fraction: every call
//! fault     = "throttle" | "5xx" | "unavailable" | "timeout" [":" duration]
//! fraction  = 0, 1 or a decimal between (0.05, 1.0)
//! duration  = whole number followed by "ms" or "s", at most 900s (50ms, 2s)
//! ```
//!
//! For each call, faults and latency are chosen separately, each from the **most specific**
//! target that has rules of that kind (`sns:Publish` over `sns` over `*`): so
//! `dynamodb=0.2:throttle,dynamodb:GetItem=0:throttle` throttles every DynamoDB operation but
//! `GetItem`. Several rules on the same target share one roll, in order, so their fractions
//! add up (`sns=0.1:throttle,sns=0.1:5xx` fails 20% of SNS calls, half of them each way) and
//! must not exceed 1. Every attempt rolls again: the SDK's retries see fresh dice.
//! Anything else is an error naming the rule and the problem; with a loopback endpoint a
//! malformed spec stops the function at cold start ([`crate::aws::loader`] panics with it).
//!
//! # What the caller sees
//!
//! Faults are produced by the HTTP client, below the SDK: the SDK parses them with its own
//! error parser and applies its own retry strategy (by default standard mode: a few attempts
//! with exponential backoff and jitter, throttles backing off longer and every retry spending
//! the client's retry quota), exactly as it would for AWS. Only when every attempt fails does
//! the caller get the error.
//!
//! | fault | the request | the response | the caller gets (after the SDK's retries) |
//! | --- | --- | --- | --- |
//! | `throttle` | not sent | 400 `ProvisionedThroughputExceededException` (dynamodb), `Throttling` (sns), 429 `TooManyRequestsException` (lambda), 400 `ThrottlingException` (others) | `SdkError::ServiceError` with that code (the modelled variant where the API has one, e.g. DynamoDB's `ProvisionedThroughputExceededException`); retried as a throttling error |
//! | `5xx` | not sent | 500 `InternalServerError` (dynamodb), `InternalError` (sns), `InternalFailure` (others) | `SdkError::ServiceError` with that code; retried as a transient error |
//! | `unavailable` | not sent | 503 `ServiceUnavailable` | `SdkError::ServiceError`, code `ServiceUnavailable`; retried as a transient error |
//! | `timeout` | **sent**: the service acts on it | lost: after the duration (default: the client's read timeout, else 1 s) the connection reports a timeout | `SdkError::DispatchFailure` whose `is_timeout()` is true; retried as a transient error, so a write may be applied twice — the case idempotency must survive |
//! | `latency` | sent after the delay | the service's own | whatever the call gives, later |
//!
//! Error messages end with `(injected by LAMBDA_KIT_FAULTS)` and request ids start with
//! `injected-`, so an injected fault is never mistaken for a real one when reading logs.
//! Every injection is logged (`tracing`, message `fault injected`, fields `service`,
//! `operation`, `fault` and `status`/`code`/`latency_ms`/`wait_ms`) so a soak can count them.
//!
//! The service is the SDK's API name from the user agent (`api/dynamodb/…`), the operation
//! comes from the protocol: `x-amz-target` (JSON protocols: DynamoDB, Step Functions, SQS) or
//! the `Action` parameter (query protocol: SNS). REST protocols (Lambda, S3) name no operation
//! in the request, so there only `service` and `*` rules apply. Requests that are not SDK API
//! calls (credential providers, IMDS) are never touched.
//!
//! # Why an HTTP client and not an interceptor
//!
//! The SDK's interceptors (`Intercept`) cannot answer for the service: the orchestrator always
//! hands the request to the HTTP client after `read_before_transmit`, an interceptor error is
//! reported as a non-retryable construction/dispatch failure rather than an AWS error, and
//! replacing the response in `modify_before_deserialization` happens after the real call was
//! made. And `SdkConfig` carries no interceptors, so [`crate::aws::sdk_config`] could not give
//! one to every client; it does carry the HTTP client, which every client built from it uses.
//!
//! # Why the loopback gate
//!
//! Faults are injected only when the spec is set **and** `AWS_ENDPOINT_URL` names a loopback
//! address (`127.0.0.0/8`, `::1`, `localhost`), as on the local stack; each request must also
//! go to a loopback host (a service-specific endpoint override elsewhere is left alone). On
//! AWS there is no loopback endpoint, so a stray variable in a production template cannot
//! break production: a spec there is logged as one error line and nothing is injected (it is
//! not even parsed, so a malformed one does not stop the function either).
//!
//! The spec is read when the SDK configuration is built, at cold start. Changing a function's
//! environment (`UpdateFunctionConfiguration`) starts new execution environments, so that is
//! enough to switch faults at run time without a redeploy.
//!
//! ```
//! use std::time::Duration;
//! use lambda_kit::faults::{Fault, FaultSpec};
//!
//! let spec: FaultSpec = "dynamodb=0.1:throttle,dynamodb:GetItem=0:throttle,*=latency:50ms"
//!     .parse()?;
//! // The dice are injectable: a roll of 0.05 is under 0.1, so PutItem is throttled…
//! let put = spec.decide("dynamodb", Some("PutItem"), &|| 0.05);
//! assert_eq!(put.fault, Some(Fault::Throttle));
//! assert_eq!(put.latency, Some(Duration::from_millis(50)));
//! // …but GetItem has its own rule, with fraction 0.
//! assert_eq!(spec.decide("dynamodb", Some("GetItem"), &|| 0.05).fault, None);
//!
//! let err = "dynamodb=0.1:thottle".parse::<FaultSpec>().unwrap_err();
//! assert!(err.to_string().contains("unknown fault \"thottle\""), "{err}");
//! # Ok::<(), lambda_kit::faults::FaultSpecError>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;

use crate::sdk_http::{ConnectorLayer, LayeredClient, target_operation};

/// Environment variable holding the spec.
pub const FAULTS_VAR: &str = "LAMBDA_KIT_FAULTS";

/// Environment variable whose loopback address is the gate (the SDK's global endpoint).
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";

/// The longest duration a spec accepts: the longest a Lambda function runs.
const MAX_DURATION: Duration = Duration::from_secs(900);

/// How long a `timeout` waits without its own duration and without a client read timeout.
const DEFAULT_TIMEOUT_WAIT: Duration = Duration::from_secs(1);

/// Appended to every injected error message.
const INJECTED: &str = "(injected by LAMBDA_KIT_FAULTS)";

/// A failure injected into one attempt of an AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `throttle`: the service's throttling error (400, or 429 for REST APIs).
    Throttle,
    /// `5xx`: the service's internal error (500).
    ServerError,
    /// `unavailable`: `ServiceUnavailable` (503).
    Unavailable,
    /// `timeout[:duration]`: the request is sent, its response lost; the connection reports a
    /// timeout after the duration (`None`: the client's read timeout, else 1 s).
    Timeout(Option<Duration>),
}

impl Fault {
    /// The fault's name in a spec and in the logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Throttle => "throttle",
            Self::ServerError => "5xx",
            Self::Unavailable => "unavailable",
            Self::Timeout(_) => "timeout",
        }
    }

    /// Status, error code and message AWS answers with for this fault on `service`
    /// (`None` for a timeout, which has no response).
    fn response_shape(self, service: &str) -> Option<ResponseShape> {
        use lambda_http::http::StatusCode as S;
        const RATE: &str = "Rate exceeded";
        Some(match (self, service) {
            (Self::Throttle, "dynamodb") => (
                S::BAD_REQUEST,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            ),
            (Self::Throttle, "sns") => (S::BAD_REQUEST, "Throttling", RATE),
            (Self::Throttle, "lambda") => (S::TOO_MANY_REQUESTS, "TooManyRequestsException", RATE),
            (Self::Throttle, _) => (S::BAD_REQUEST, "ThrottlingException", RATE),
            (Self::ServerError, "dynamodb") => (
                S::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal server error",
            ),
            (Self::ServerError, "sns") => {
                (S::INTERNAL_SERVER_ERROR, "InternalError", "Internal error")
            }
            (Self::ServerError, _) => (
                S::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "The request processing has failed because of an unknown error.",
            ),
            (Self::Unavailable, _) => (
                S::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Service unavailable",
            ),
            (Self::Timeout(_), _) => return None,
        })
    }
}

/// Status, error code and message of an injected error response.
type ResponseShape = (lambda_http::http::StatusCode, &'static str, &'static str);

/// What one attempt of a call gets: a delay before it, a fault instead of the service's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// Added before the request is sent (or the fault produced).
    pub latency: Option<Duration>,
    /// Replaces the service's answer.
    pub fault: Option<Fault>,
}

impl Decision {
    /// Nothing to inject.
    pub fn is_none(&self) -> bool {
        self.latency.is_none() && self.fault.is_none()
    }
}

/// Which calls a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Any,
    Service(String),
    Operation(String, String),
}

impl Target {
    fn matches(&self, service: &str, operation: Option<&str>) -> bool {
        match self {
            Self::Any => true,
            Self::Service(s) => s == service,
            Self::Operation(s, op) => s == service && operation == Some(op.as_str()),
        }
    }

    /// Higher wins: an operation over its service over `*`.
    fn specificity(&self) -> u8 {
        match self {
            Self::Any => 0,
            Self::Service(_) => 1,
            Self::Operation(..) => 2,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Service(s) => f.write_str(s),
            Self::Operation(s, op) => write!(f, "{s}:{op}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Fault(Fault),
    Latency(Duration),
}

impl Effect {
    fn is_latency(self) -> bool {
        matches!(self, Self::Latency(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    target: Target,
    fraction: f64,
    effect: Effect,
}

/// What is wrong with one rule of a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecProblem {
    /// Nothing between two commas (or a trailing comma).
    #[error("empty rule")]
    Empty,
    /// No `=`.
    #[error("expected TARGET=EFFECT")]
    NoEquals,
    /// A fault without its fraction.
    #[error("{0:?} needs a fraction: FRACTION:FAULT, such as 0.1:throttle")]
    NoFraction(String),
    /// Neither `*`, a service nor `service:Operation`.
    #[error(
        "bad target {0:?}: expected *, a service (dynamodb) or service:Operation (sns:Publish)"
    )]
    Target(String),
    /// Not a number from 0 to 1.
    #[error("bad fraction {0:?}: expected 0, 1 or a decimal between such as 0.05")]
    Fraction(String),
    /// Not one of the faults.
    #[error(
        "unknown fault {0:?}: expected throttle, 5xx, unavailable, timeout[:DURATION] or latency:DURATION"
    )]
    Fault(String),
    /// Not a whole number of `ms` or `s` up to 900 s.
    #[error("bad duration {0:?}: expected whole ms or s up to 900s, such as 50ms or 2s")]
    Duration(String),
    /// The fractions of one target's faults (or latencies) add up to more than 1.
    #[error("the {kind} fractions of {target} add up to {total}, more than 1")]
    Overbooked {
        /// The target.
        target: String,
        /// `fault` or `latency`.
        kind: &'static str,
        /// Their sum.
        total: String,
    },
}

/// A malformed spec: which rule (1-based, as written) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{FAULTS_VAR}: rule {position} ({rule:?}): {problem}")]
pub struct FaultSpecError {
    /// 1-based position of the rule in the spec.
    pub position: usize,
    /// The rule as written.
    pub rule: String,
    /// What is wrong with it.
    pub problem: SpecProblem,
}

/// A parsed `LAMBDA_KIT_FAULTS` spec (grammar in the [module doc](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    rules: Vec<Rule>,
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

fn is_service(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_operation(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn parse_target(text: &str) -> Result<Target, SpecProblem> {
    let target = match text.split_once(':') {
        _ if text == "*" => Some(Target::Any),
        None => is_service(text).then(|| Target::Service(text.to_owned())),
        Some((service, operation)) => (is_service(service) && is_operation(operation))
            .then(|| Target::Operation(service.to_owned(), operation.to_owned())),
    };
    target.ok_or_else(|| SpecProblem::Target(text.to_owned()))
}

/// `0`, `1`, `0.ddd` or `1.000`: no signs, exponents, `NaN` or bare `.5`.
fn parse_fraction(text: &str) -> Result<f64, SpecProblem> {
    let well_formed = match text.split_once('.') {
        None => text == "0" || text == "1",
        Some((whole, decimals)) => {
            !decimals.is_empty()
                && decimals.bytes().all(|b| b.is_ascii_digit())
                && (whole == "0" || (whole == "1" && decimals.bytes().all(|b| b == b'0')))
        }
    };
    well_formed
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| SpecProblem::Fraction(text.to_owned()))
}

fn parse_duration(text: &str) -> Result<Duration, SpecProblem> {
    let bad = || SpecProblem::Duration(text.to_owned());
    let (digits, unit): (&str, fn(u64) -> Duration) = match text.strip_suffix("ms") {
        Some(digits) => (digits, Duration::from_millis),
        None => (text.strip_suffix('s').ok_or_else(bad)?, Duration::from_secs),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let duration = unit(digits.parse().map_err(|_| bad())?);
    if duration > MAX_DURATION {
        return Err(bad());
    }
    Ok(duration)
}

fn parse_action(text: &str) -> Result<Effect, SpecProblem> {
    if let Some(duration) = text.strip_prefix("latency:") {
        return parse_duration(duration).map(Effect::Latency);
    }
    if let Some(duration) = text.strip_prefix("timeout:") {
        return parse_duration(duration).map(|d| Effect::Fault(Fault::Timeout(Some(d))));
    }
    match text {
        "throttle" => Ok(Effect::Fault(Fault::Throttle)),
        "5xx" => Ok(Effect::Fault(Fault::ServerError)),
        "unavailable" => Ok(Effect::Fault(Fault::Unavailable)),
        "timeout" => Ok(Effect::Fault(Fault::Timeout(None))),
        _ => Err(SpecProblem::Fault(text.to_owned())),
    }
}

fn parse_rule(text: &str) -> Result<Rule, SpecProblem> {
    if text.is_empty() {
        return Err(SpecProblem::Empty);
    }
    let (target, effect) = text.split_once('=').ok_or(SpecProblem::NoEquals)?;
    let target = parse_target(target)?;
    let (fraction, effect) = if effect.starts_with("latency:") {
        (1.0, parse_action(effect)?)
    } else {
        let (fraction, action) = effect
            .split_once(':')
            .ok_or_else(|| SpecProblem::NoFraction(effect.to_owned()))?;
        (parse_fraction(fraction)?, parse_action(action)?)
    };
    Ok(Rule {
        target,
        fraction,
        effect,
    })
}

impl FaultSpec {
    /// Parses a spec; an empty (or blank) text is an error here ([`from_lookup`] treats it as
    /// unset).
    pub fn parse(text: &str) -> Result<Self, FaultSpecError> {
        let mut rules: Vec<Rule> = Vec::new();
        for (index, raw) in text.split(',').enumerate() {
            let raw = raw.trim();
            let error = |problem| FaultSpecError {
                position: index.saturating_add(1),
                rule: raw.to_owned(),
                problem,
            };
            let rule = parse_rule(raw).map_err(error)?;
            let total: f64 = rules
                .iter()
                .filter(|r| {
                    r.target == rule.target && r.effect.is_latency() == rule.effect.is_latency()
                })
                .map(|r| r.fraction)
                .sum::<f64>()
                + rule.fraction;
            // Decimal fractions such as 0.1 + 0.2 are not exact in binary.
            if total > 1.0 + 1e-9 {
                return Err(error(SpecProblem::Overbooked {
                    target: rule.target.to_string(),
                    kind: if rule.effect.is_latency() {
                        "latency"
                    } else {
                        "fault"
                    },
                    total: format!("{total:.3}"),
                }));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// What one attempt of `service`'s `operation` gets, with `random` giving rolls in `[0, 1)`
    /// (one for the latency, one for the fault, each only when a rule applies).
    pub fn decide(
        &self,
        service: &str,
        operation: Option<&str>,
        random: &dyn Fn() -> f64,
    ) -> Decision {
        let pick = |latency: bool| {
            let applies = |r: &&Rule| {
                r.effect.is_latency() == latency && r.target.matches(service, operation)
            };
            let best = self
                .rules
                .iter()
                .filter(applies)
                .map(|r| r.target.specificity())
                .max()?;
            let roll = random();
            let mut bound = 0.0;
            self.rules
                .iter()
                .filter(applies)
                .filter(|r| r.target.specificity() == best)
                .find(|r| {
                    bound += r.fraction;
                    roll < bound
                })
                .map(|r| r.effect)
        };
        Decision {
            latency: match pick(true) {
                Some(Effect::Latency(d)) => Some(d),
                _ => None,
            },
            fault: match pick(false) {
                Some(Effect::Fault(f)) => Some(f),
                _ => None,
            },
        }
    }
}

/// Whether `url` is an `http(s)` URL whose host is a loopback address (`127.0.0.0/8`, `::1`)
/// or `localhost`.
pub fn is_loopback_endpoint(url: &str) -> bool {
    let Ok(uri) = url.parse::<lambda_http::http::Uri>() else {
        return false;
    };
    // The SDK wants a scheme; without one `localhost:4566` would read as a host.
    let (Some("http" | "https"), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The spec from the process environment ([`from_lookup`]).
pub fn from_env() -> Result<Option<FaultSpec>, FaultSpecError> {
    from_lookup(|name| std::env::var(name).ok())
}

/// The spec of [`FAULTS_VAR`], if set and the endpoint of [`ENDPOINT_VAR`] is loopback.
///
/// Unset or blank: `Ok(None)`. Set with another endpoint (or none): one error line is logged
/// and `Ok(None)`: nothing is injected and the spec is not even parsed. Set with a loopback
/// endpoint: the parsed spec (logged), or the error of a malformed one.
pub fn from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<FaultSpec>, FaultSpecError> {
    let Some(text) = lookup(FAULTS_VAR).filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let endpoint = lookup(ENDPOINT_VAR);
    if !endpoint.as_deref().is_some_and(is_loopback_endpoint) {
        tracing::error!(
            spec = %text,
            endpoint = endpoint.as_deref().unwrap_or(""),
            "{FAULTS_VAR} is set but {ENDPOINT_VAR} is not a loopback address: injecting no faults"
        );
        return Ok(None);
    }
    let spec = FaultSpec::parse(&text)?;
    tracing::warn!(spec = %text, "fault injection on");
    Ok(Some(spec))
}

/// The source of rolls in `[0, 1)`.
pub type Random = Arc<dyn Fn() -> f64 + Send + Sync>;

/// A roll from the operating system's generator (a failure gives 1.0: no fault).
fn os_random() -> f64 {
    // The top 53 bits make a uniform f64 in [0, 1).
    getrandom::u64().map_or(1.0, |x| (x >> 11) as f64 / (1u64 << 53) as f64)
}

/// What [`FaultInjectingClient`] puts in front of the client it wraps: the spec and the dice.
#[derive(Clone)]
pub struct InjectFaults {
    spec: Arc<FaultSpec>,
    random: Random,
}

impl fmt::Debug for InjectFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InjectFaults")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl ConnectorLayer for InjectFaults {
    fn layer(
        &self,
        inner: SharedHttpConnector,
        settings: &HttpConnectorSettings,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultConnector {
            inner,
            spec: Arc::clone(&self.spec),
            random: Arc::clone(&self.random),
            read_timeout: settings.read_timeout(),
        })
    }
}

/// An SDK HTTP client that injects the faults of a [`FaultSpec`] into the calls it carries
/// and passes everything else to the client it wraps ([module doc](self)).
pub type FaultInjectingClient = LayeredClient<InjectFaults>;

impl LayeredClient<InjectFaults> {
    /// `inner` with the faults of `spec`, rolled with the operating system's generator.
    pub fn new(inner: SharedHttpClient, spec: FaultSpec) -> Self {
        Self::layered(
            inner,
            InjectFaults {
                spec: Arc::new(spec),
                random: Arc::new(os_random),
            },
        )
    }

    /// Replaces the dice (tests): `random` must return values in `[0, 1)`. Call it before
    /// the client is cloned or shared.
    #[must_use]
    pub fn with_random(mut self, random: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        if let Some(layer) = self.layer_mut() {
            layer.random = Arc::new(random);
        }
        self
    }
}

#[derive(Clone)]
struct FaultConnector {
    inner: SharedHttpConnector,
    spec: Arc<FaultSpec>,
    random: Random,
    read_timeout: Option<Duration>,
}

impl fmt::Debug for FaultConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultConnector")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for FaultConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(call) = ApiCall::of(&request) else {
            return self.inner.call(request);
        };
        let decision = self
            .spec
            .decide(&call.service, call.operation.as_deref(), &*self.random);
        if decision.is_none() {
            return self.inner.call(request);
        }
        let inner = self.inner.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let operation = call.operation.as_deref().unwrap_or("");
            if let Some(latency) = decision.latency {
                tracing::info!(
                    service = %call.service,
                    operation,
                    fault = "latency",
                    latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
                    "fault injected"
                );
                tokio::time::sleep(latency).await;
            }
            let Some(fault) = decision.fault else {
                return inner.call(request).await;
            };
            if let Some(shape) = fault.response_shape(&call.service) {
                return Ok(call.error_response(fault, shape));
            }
            let wait = match fault {
                Fault::Timeout(Some(wait)) => wait,
                _ => read_timeout.unwrap_or(DEFAULT_TIMEOUT_WAIT),
            };
            tracing::warn!(
                service = %call.service,
                operation,
                fault = fault.name(),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "fault injected"
            );
            // The service acts on the request; its answer (or failure) is what gets lost.
            let _lost = tokio::join!(inner.call(request), tokio::time::sleep(wait));
            Err(ConnectorError::timeout(
                format!("no response within {wait:?} {INJECTED}").into(),
            ))
        })
    }
}

/// How the service spells its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Protocol {
    /// awsJson 1.0/1.1: `__type` in a JSON body of the request's content type.
    Json { content_type: String },
    /// awsQuery: an XML `ErrorResponse`.
    Query,
    /// restJson: `x-amzn-errortype` header and a JSON body.
    RestJson,
}

/// An SDK API call to a loopback host, as far as the request tells.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiCall {
    service: String,
    operation: Option<String>,
    protocol: Protocol,
}

/// The SDK's API name from a user agent: `… api/dynamodb/1.136.0 …` → `dynamodb`.
pub(crate) fn api_service(user_agent: &str) -> Option<String> {
    user_agent
        .split_ascii_whitespace()
        .find_map(|token| token.strip_prefix("api/"))
        .and_then(|rest| rest.split(['/', '#']).next())
        .filter(|name| !name.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The `Action` of an awsQuery body (`Action=Publish&Version=…`).
pub(crate) fn query_action(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|action| is_operation(action))
        .map(str::to_owned)
}

impl ApiCall {
    /// `None` for anything that is not an SDK API call to a loopback host: left alone.
    fn of(request: &HttpRequest) -> Option<Self> {
        if !is_loopback_endpoint(request.uri()) {
            return None;
        }
        let headers = request.headers();
        let service = headers
            .get("x-amz-user-agent")
            .or_else(|| headers.get("user-agent"))
            .and_then(api_service)?;
        let content_type = headers.get("content-type").unwrap_or_default();
        let (operation, protocol) = if let Some(target) = headers.get("x-amz-target") {
            (
                Some(target_operation(target).to_owned()),
                Protocol::Json {
                    content_type: if content_type.is_empty() {
                        "application/x-amz-json-1.0".to_owned()
                    } else {
                        content_type.to_owned()
                    },
                },
            )
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            (
                request.body().bytes().and_then(query_action),
                Protocol::Query,
            )
        } else {
            (None, Protocol::RestJson)
        };
        Some(Self {
            service,
            operation,
            protocol,
        })
    }

    /// The response AWS gives for `fault` on this call, logged.
    fn error_response(&self, fault: Fault, (status, code, message): ResponseShape) -> HttpResponse {
        tracing::warn!(
            service = %self.service,
            operation = self.operation.as_deref().unwrap_or(""),
            fault = fault.name(),
            status = status.as_u16(),
            code,
            "fault injected"
        );
        let message = format!("{message} {INJECTED}");
        let request_id = format!("injected-{}", crate::ids::new_uuid());
        let (content_type, body) = match &self.protocol {
            Protocol::Json { content_type } => (
                content_type.clone(),
                serde_json::json!({
                    "__type": format!("com.amazonaws.{}#{code}", self.service),
                    "message": message,
                })
                .to_string(),
            ),
            Protocol::Query => (
                "text/xml".to_owned(),
                format!(
                    "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>\
                     <Message>{message}</Message></Error><RequestId>{request_id}</RequestId>\
                     </ErrorResponse>",
                    kind = if status.is_server_error() {
                        "Receiver"
                    } else {
                        "Sender"
                    },
                ),
            ),
            Protocol::RestJson => (
                "application/json".to_owned(),
                serde_json::json!({ "message": message }).to_string(),
            ),
        };
        let mut response = HttpResponse::new(status.into(), SdkBody::from(body));
        let headers = response.headers_mut();
        // The values are ASCII we built; a failure would only drop a header.
        let _ = headers.try_insert("content-type", content_type);
        let _ = headers.try_insert("x-amzn-requestid", request_id);
        if self.protocol == Protocol::RestJson {
            let _ = headers.try_insert("x-amzn-errortype", code);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_config::retry::RetryConfig;
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_sdk_dynamodb::config::Credentials;
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn rule(target: Target, fraction: f64, effect: Effect) -> Rule {
        Rule {
            target,
            fraction,
            effect,
        }
    }

    fn service(name: &str) -> Target {
        Target::Service(name.to_owned())
    }

    #[test]
    fn good_specs_parse() {
        let spec = FaultSpec::parse(
            "dynamodb=0.1:throttle,sns:Publish=0.05:5xx,sfn=0.1:timeout,*=latency:50ms",
        )
        .unwrap();
        assert_eq!(
            spec.rules,
            [
                rule(service("dynamodb"), 0.1, Effect::Fault(Fault::Throttle)),
                rule(
                    Target::Operation("sns".to_owned(), "Publish".to_owned()),
                    0.05,
                    Effect::Fault(Fault::ServerError)
                ),
                rule(service("sfn"), 0.1, Effect::Fault(Fault::Timeout(None))),
                rule(Target::Any, 1.0, Effect::Latency(ms(50))),
            ]
        );
        let spec = FaultSpec::parse(
            " dynamodb=1:unavailable , lambda=0.5:timeout:250ms,*=0.25:latency:2s,cloudwatch-logs=0:5xx,sns=1.00:throttle",
        )
        .unwrap();
        assert_eq!(
            spec.rules,
            [
                rule(service("dynamodb"), 1.0, Effect::Fault(Fault::Unavailable)),
                rule(
                    service("lambda"),
                    0.5,
                    Effect::Fault(Fault::Timeout(Some(ms(250))))
                ),
                rule(Target::Any, 0.25, Effect::Latency(Duration::from_secs(2))),
                rule(
                    service("cloudwatch-logs"),
                    0.0,
                    Effect::Fault(Fault::ServerError)
                ),
                rule(service("sns"), 1.0, Effect::Fault(Fault::Throttle)),
            ]
        );
        // Fractions of one target add up to exactly 1 (0.1 + 0.2 + 0.7 is not exact in binary).
        FaultSpec::parse("sns=0.1:throttle,sns=0.2:5xx,sns=0.7:unavailable,sns=0.5:latency:1s")
            .unwrap();
    }

    #[test]
    fn bad_specs_name_the_rule_and_the_problem() {
        let duration = |s: &str| SpecProblem::Duration(s.to_owned());
        let fraction = |s: &str| SpecProblem::Fraction(s.to_owned());
        let target = |s: &str| SpecProblem::Target(s.to_owned());
        for (spec, position, problem) in [
            ("", 1, SpecProblem::Empty),
            ("dynamodb=0.1:throttle,", 2, SpecProblem::Empty),
            ("dynamodb=0.1:throttle,,sns=1:5xx", 2, SpecProblem::Empty),
            ("dynamodb", 1, SpecProblem::NoEquals),
            ("DynamoDB=0.1:throttle", 1, target("DynamoDB")),
            (
                "dynamodb:putItem=0.1:throttle",
                1,
                target("dynamodb:putItem"),
            ),
            ("dynamodb:=0.1:throttle", 1, target("dynamodb:")),
            (":PutItem=0.1:throttle", 1, target(":PutItem")),
            ("*:PutItem=0.1:throttle", 1, target("*:PutItem")),
            ("dynamo db=0.1:throttle", 1, target("dynamo db")),
            ("=0.1:throttle", 1, target("")),
            ("dynamodb=1.5:throttle", 1, fraction("1.5")),
            ("dynamodb=.5:throttle", 1, fraction(".5")),
            ("dynamodb=0.:throttle", 1, fraction("0.")),
            ("dynamodb=-0:throttle", 1, fraction("-0")),
            ("dynamodb=1e-1:throttle", 1, fraction("1e-1")),
            ("dynamodb=NaN:throttle", 1, fraction("NaN")),
            ("dynamodb=10%:throttle", 1, fraction("10%")),
            (
                "dynamodb=throttle",
                1,
                SpecProblem::NoFraction("throttle".to_owned()),
            ),
            (
                "dynamodb=0.1:thottle",
                1,
                SpecProblem::Fault("thottle".to_owned()),
            ),
            (
                "dynamodb=0.1:Throttle",
                1,
                SpecProblem::Fault("Throttle".to_owned()),
            ),
            (
                "dynamodb=0.1:throttle=2",
                1,
                SpecProblem::Fault("throttle=2".to_owned()),
            ),
            ("*=latency:50", 1, duration("50")),
            ("*=latency:-5ms", 1, duration("-5ms")),
            ("*=latency:1.5s", 1, duration("1.5s")),
            ("*=latency:ms", 1, duration("ms")),
            ("*=latency:901s", 1, duration("901s")),
            (
                "*=latency:99999999999999999999ms",
                1,
                duration("99999999999999999999ms"),
            ),
            ("sfn=0.1:timeout:", 1, duration("")),
            (
                "sns=0.6:throttle,sns=0.5:5xx",
                2,
                SpecProblem::Overbooked {
                    target: "sns".to_owned(),
                    kind: "fault",
                    total: "1.100".to_owned(),
                },
            ),
            (
                "*=latency:1s,*=latency:2s",
                2,
                SpecProblem::Overbooked {
                    target: "*".to_owned(),
                    kind: "latency",
                    total: "2.000".to_owned(),
                },
            ),
        ] {
            let err = FaultSpec::parse(spec).unwrap_err();
            assert_eq!(
                (err.position, &err.problem),
                (position, &problem),
                "{spec:?}"
            );
        }
        // Different targets and different kinds are booked separately.
        FaultSpec::parse("sns=0.6:throttle,sns:Publish=0.5:5xx,sns=1:latency:1ms").unwrap();
        let err = FaultSpec::parse("dynamodb=0.1:throttle, sns:Publish=0.05:5xy").unwrap_err();
        assert_eq!(
            err.to_string(),
            "LAMBDA_KIT_FAULTS: rule 2 (\"sns:Publish=0.05:5xy\"): unknown fault \"5xy\": \
             expected throttle, 5xx, unavailable, timeout[:DURATION] or latency:DURATION"
        );
    }

    fn fixed(roll: f64) -> impl Fn() -> f64 {
        move || roll
    }

    #[test]
    fn fraction_zero_never_one_always() {
        let never = FaultSpec::parse("dynamodb=0:throttle,sns=0:latency:1s").unwrap();
        let always = FaultSpec::parse("dynamodb=1:throttle,sns=1:latency:1s").unwrap();
        for roll in [0.0, 0.5, 0.999_999_999] {
            assert_eq!(
                never.decide("dynamodb", Some("PutItem"), &fixed(roll)),
                Decision::default()
            );
            assert_eq!(
                never.decide("sns", Some("Publish"), &fixed(roll)),
                Decision::default()
            );
            assert_eq!(
                always
                    .decide("dynamodb", Some("PutItem"), &fixed(roll))
                    .fault,
                Some(Fault::Throttle)
            );
            assert_eq!(
                always.decide("sns", None, &fixed(roll)).latency,
                Some(Duration::from_secs(1))
            );
        }
    }

    #[test]
    fn the_most_specific_target_wins_and_shares_one_roll() {
        let spec = FaultSpec::parse(
            "*=0.5:unavailable,dynamodb=0.1:throttle,dynamodb=0.1:5xx,dynamodb:GetItem=0:throttle,\
             *=latency:10ms,sns=0.5:latency:20ms",
        )
        .unwrap();
        let fault = |service: &str, operation: Option<&str>, roll: f64| {
            spec.decide(service, operation, &fixed(roll)).fault
        };
        assert_eq!(
            fault("dynamodb", Some("PutItem"), 0.05),
            Some(Fault::Throttle)
        );
        assert_eq!(
            fault("dynamodb", Some("PutItem"), 0.1),
            Some(Fault::ServerError)
        );
        assert_eq!(
            fault("dynamodb", Some("PutItem"), 0.15),
            Some(Fault::ServerError)
        );
        assert_eq!(fault("dynamodb", Some("PutItem"), 0.2), None);
        // The service's rules replace `*`'s; the operation's rule replaces the service's.
        assert_eq!(fault("dynamodb", Some("PutItem"), 0.4), None);
        assert_eq!(fault("dynamodb", Some("GetItem"), 0.0), None);
        assert_eq!(fault("dynamodb", None, 0.05), Some(Fault::Throttle));
        assert_eq!(
            fault("sqs", Some("SendMessage"), 0.4),
            Some(Fault::Unavailable)
        );
        assert_eq!(fault("sqs", Some("SendMessage"), 0.5), None);
        // Latency is chosen on its own, from its own most specific target.
        let latency = |service: &str, roll: f64| spec.decide(service, None, &fixed(roll)).latency;
        assert_eq!(latency("dynamodb", 0.9), Some(ms(10)));
        assert_eq!(latency("sns", 0.4), Some(ms(20)));
        assert_eq!(latency("sns", 0.6), None);
    }

    #[test]
    fn no_applicable_rule_rolls_no_dice() {
        let spec = FaultSpec::parse("dynamodb:PutItem=1:throttle").unwrap();
        let rolls = AtomicUsize::new(0);
        let counted = || {
            rolls.fetch_add(1, Ordering::SeqCst);
            0.0
        };
        assert!(spec.decide("dynamodb", Some("GetItem"), &counted).is_none());
        assert!(spec.decide("sns", Some("Publish"), &counted).is_none());
        assert_eq!(rolls.load(Ordering::SeqCst), 0);
        assert!(!spec.decide("dynamodb", Some("PutItem"), &counted).is_none());
        assert_eq!(rolls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn os_rolls_are_in_the_unit_interval() {
        for _ in 0..1000 {
            let roll = os_random();
            assert!((0.0..1.0).contains(&roll), "{roll}");
        }
    }

    #[test]
    fn loopback_endpoints() {
        for url in [
            "http://127.0.0.1:4566",
            "http://127.0.0.1",
            "https://127.1.2.3:4566/",
            "http://localhost:4566",
            "http://LOCALHOST:4566",
            "http://[::1]:4566",
            "http://127.0.0.1:4566/path?x=1",
        ] {
            assert!(is_loopback_endpoint(url), "{url}");
        }
        for url in [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://10.0.0.1:4566",
            "http://localhost.example.com:4566",
            "http://127.0.0.1.example.com",
            "http://[::2]:4566",
            "http://0.0.0.0:4566",
            "localhost:4566",
            "not a url",
            "",
        ] {
            assert!(!is_loopback_endpoint(url), "{url}");
        }
    }

    fn lookup<'a>(
        spec: Option<&'a str>,
        endpoint: Option<&'a str>,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| match name {
            FAULTS_VAR => spec.map(str::to_owned),
            ENDPOINT_VAR => endpoint.map(str::to_owned),
            _ => None,
        }
    }

    #[test]
    fn faults_need_a_spec_and_a_loopback_endpoint() {
        let local = Some("http://127.0.0.1:4566");
        let aws = Some("https://dynamodb.eu-west-1.amazonaws.com");
        let good = Some("dynamodb=0.1:throttle");
        let bad = Some("dynamodb=0.1:thottle");
        assert_eq!(from_lookup(lookup(None, local)), Ok(None));
        assert_eq!(from_lookup(lookup(Some("  "), local)), Ok(None));
        assert_eq!(
            from_lookup(lookup(good, local)),
            Ok(Some(FaultSpec::parse("dynamodb=0.1:throttle").unwrap()))
        );
        assert_eq!(
            from_lookup(lookup(bad, local)).unwrap_err().problem,
            SpecProblem::Fault("thottle".to_owned())
        );
        // Elsewhere a spec (even a malformed one) is ignored: it cannot break production.
        for endpoint in [None, aws, Some("http://10.0.0.1:4566")] {
            assert_eq!(
                from_lookup(lookup(good, endpoint)),
                Ok(None),
                "{endpoint:?}"
            );
            assert_eq!(from_lookup(lookup(bad, endpoint)), Ok(None), "{endpoint:?}");
        }
    }

    fn request(uri: &str, headers: &[(&'static str, &'static str)], body: &str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body.to_owned()));
        request.set_uri(uri).unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, *value);
        }
        request
    }

    const DYNAMODB_UA: (&str, &str) = (
        "x-amz-user-agent",
        "aws-sdk-rust/1.3.9 ua/2.1 api/dynamodb/1.136.0 os/linux lang/rust/1.95.0",
    );

    #[test]
    fn requests_tell_service_operation_and_protocol() {
        let call = |uri, headers: &[(&'static str, &'static str)], body| {
            ApiCall::of(&request(uri, headers, body))
        };
        let json = |operation: &str, content_type: &str| ApiCall {
            service: "dynamodb".to_owned(),
            operation: Some(operation.to_owned()),
            protocol: Protocol::Json {
                content_type: content_type.to_owned(),
            },
        };
        assert_eq!(
            call(
                "http://127.0.0.1:4566/",
                &[
                    DYNAMODB_UA,
                    ("x-amz-target", "DynamoDB_20120810.PutItem"),
                    ("content-type", "application/x-amz-json-1.0"),
                ],
                "{}"
            ),
            Some(json("PutItem", "application/x-amz-json-1.0"))
        );
        assert_eq!(
            call(
                "http://localhost:4566/",
                &[
                    ("user-agent", "aws-sdk-rust/1.3.9 api/sns/1.121.0 os/linux"),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                "Action=Publish&Version=2010-03-31&Message=hi"
            ),
            Some(ApiCall {
                service: "sns".to_owned(),
                operation: Some("Publish".to_owned()),
                protocol: Protocol::Query,
            })
        );
        assert_eq!(
            call(
                "http://[::1]:4566/2015-03-31/functions/f/invocations",
                &[("x-amz-user-agent", "aws-sdk-rust/1.3.9 api/lambda/1.156.0")],
                "{}"
            ),
            Some(ApiCall {
                service: "lambda".to_owned(),
                operation: None,
                protocol: Protocol::RestJson,
            })
        );
        // Not loopback, or not an SDK API call (no api/ in the user agent): left alone.
        let put = [DYNAMODB_UA, ("x-amz-target", "DynamoDB_20120810.PutItem")];
        assert_eq!(
            call("https://dynamodb.eu-west-1.amazonaws.com/", &put, "{}"),
            None
        );
        assert_eq!(
            call(
                "http://127.0.0.1:4566/",
                &[("user-agent", "aws-sdk-rust/1.3.9 os/linux")],
                ""
            ),
            None
        );
    }

    /// A loopback URL where nothing listens: a request that got through would be refused.
    fn closed_port() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}")
    }

    /// A client with `spec` whose dice always give `roll`, counting the rolls.
    fn faulty(spec: &str, roll: f64) -> (SharedHttpClient, Arc<AtomicUsize>) {
        let rolls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&rolls);
        let client = FaultInjectingClient::new(
            crate::aws::https_client(false),
            FaultSpec::parse(spec).unwrap(),
        )
        .with_random(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            roll
        });
        (client.into_shared(), rolls)
    }

    fn dynamodb(client: SharedHttpClient, max_attempts: u32) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::for_tests())
            .endpoint_url(closed_port())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(ms(1)),
            )
            .http_client(client)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    async fn get_item(
        client: &aws_sdk_dynamodb::Client,
    ) -> aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError>
    {
        client
            .get_item()
            .table_name("widgets")
            .key(
                "id",
                aws_sdk_dynamodb::types::AttributeValue::S("w-1".to_owned()),
            )
            .send()
            .await
            .unwrap_err()
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            crate::sync::lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<serde_json::Value> {
            String::from_utf8(crate::sync::lock(&self.0).clone())
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        }
    }

    #[tokio::test]
    async fn a_throttled_dynamodb_call_fails_as_aws_would_after_the_sdk_retries() {
        let logs = Captured::default();
        let writer = logs.clone();
        let _logging = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .json()
                .with_writer(move || writer.clone())
                .finish(),
        );
        let (client, rolls) = faulty("dynamodb=1:throttle", 0.5);
        let err = get_item(&dynamodb(client, 3)).await;
        let service_error = err.as_service_error().unwrap();
        assert!(
            service_error.is_provisioned_throughput_exceeded_exception(),
            "{service_error:?}"
        );
        assert_eq!(
            service_error.code(),
            Some("ProvisionedThroughputExceededException")
        );
        assert!(
            service_error
                .message()
                .is_some_and(|m| m.ends_with("(injected by LAMBDA_KIT_FAULTS)"))
        );
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        // The SDK classified it as throttling and retried: every attempt rolled again.
        assert_eq!(rolls.load(Ordering::SeqCst), 3);
        let injected: Vec<_> = logs
            .lines()
            .into_iter()
            .filter(|line| line["fields"]["message"] == "fault injected")
            .collect();
        assert_eq!(injected.len(), 3, "{injected:?}");
        assert_eq!(injected[0]["fields"]["service"], "dynamodb");
        assert_eq!(injected[0]["fields"]["operation"], "GetItem");
        assert_eq!(injected[0]["fields"]["fault"], "throttle");
        assert_eq!(
            injected[0]["fields"]["code"],
            "ProvisionedThroughputExceededException"
        );
    }

    #[tokio::test]
    async fn server_errors_unavailability_and_timeouts_look_like_aws() {
        let (client, _) = faulty("dynamodb=1:5xx", 0.0);
        let err = get_item(&dynamodb(client, 1)).await;
        assert!(err.as_service_error().unwrap().is_internal_server_error());
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));

        let (client, rolls) = faulty("dynamodb:GetItem=1:unavailable", 0.0);
        let err = get_item(&dynamodb(client, 2)).await;
        assert_eq!(err.code(), Some("ServiceUnavailable"));
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
        assert_eq!(rolls.load(Ordering::SeqCst), 2, "retried as transient");

        let (client, rolls) = faulty("dynamodb=1:timeout:20ms", 0.0);
        let started = std::time::Instant::now();
        let err = get_item(&dynamodb(client, 2)).await;
        let aws_sdk_dynamodb::error::SdkError::DispatchFailure(failure) = &err else {
            panic!("{err:?}");
        };
        assert!(failure.is_timeout(), "{failure:?}");
        assert!(started.elapsed() >= ms(40));
        assert_eq!(rolls.load(Ordering::SeqCst), 2, "retried as transient");
    }

    #[tokio::test]
    async fn without_a_fault_the_request_goes_through() {
        // Fraction 0 (and latency): the request reaches the closed port and is refused.
        let (client, rolls) = faulty("dynamodb=0:throttle,*=latency:5ms", 0.0);
        let err = get_item(&dynamodb(client, 1)).await;
        let aws_sdk_dynamodb::error::SdkError::DispatchFailure(failure) = &err else {
            panic!("{err:?}");
        };
        assert!(failure.is_io(), "{failure:?}");
        assert_eq!(rolls.load(Ordering::SeqCst), 2, "one roll for each kind");
    }

    fn sdk_config(client: SharedHttpClient) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                Credentials::for_tests(),
            ))
            .endpoint_url(closed_port())
            .retry_config(RetryConfig::disabled())
            .http_client(client)
            .build()
    }

    #[tokio::test]
    async fn sns_and_step_functions_get_their_own_errors() {
        let (client, _) = faulty("sns:Publish=1:throttle,sfn=1:5xx", 0.0);
        let sdk = sdk_config(client);
        let err = aws_sdk_sns::Client::new(&sdk)
            .publish()
            .topic_arn("arn:aws:sns:eu-west-1:000000000000:events")
            .message("{}")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("Throttling"), "{err:?}");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        let err = aws_sdk_sfn::Client::new(&sdk)
            .start_execution()
            .state_machine_arn("arn:aws:states:eu-west-1:000000000000:stateMachine:checkout")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InternalFailure"), "{err:?}");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    }
}
