//! The AWS SDK configuration every function builds once, at cold start.
//!
//! [`sdk_config`] is `aws_config::defaults(BehaviorVersion::latest()).load()` (region,
//! credentials, `AWS_ENDPOINT_URL`, retries from the environment; credentials resolved lazily,
//! on the first request) with our own HTTPS client, [`https_client`]: the SDK's hyper + rustls
//! client with two changes.
//!
//! **Amazon roots only.** The SDK loads the system roots when a client is constructed
//! (deliberately, to keep that work off the first request), so every cold start read and parsed
//! the whole CA bundle (`/etc/ssl/certs`: ~150 certificates, a directory scan and ~220 KB of PEM)
//! before the function could ask for its first event — about 5 ms of init on the bench machine,
//! more than half of a lean function's init. AWS service endpoints present certificates issued
//! by Amazon Trust Services, which chain to Amazon Root CA 1–4 (cross-signed by Starfield
//! Services Root CA G2, included for older chains); those five roots are
//! `aws/amazon-trust-roots.pem`. Set `LAMBDA_KIT_TLS_NATIVE_ROOTS=1` to use the system store instead
//! (an HTTPS endpoint with a private CA, a TLS-intercepting proxy). Plain-HTTP endpoints such
//! as LocalStack's are not affected either way.
//!
//! **ring instead of aws-lc.** The SDK's default crypto provider, aws-lc, is a C library of
//! ~2 MB in every binary; rustls on `ring` does the same TLS 1.2/1.3 work and keeps a
//! function's deployment zip under 3 MB (see the bench). What that gives up: aws-lc's FIPS
//! build and its post-quantum hybrid key exchange (X25519MLKEM768). Use the SDK's
//! `default-https-client` feature (and drop [`https_client`]) if you need either.
//! That is why the SDK crates are built without `default-https-client`: every client must get
//! its HTTP client from here ([`loader`], [`sdk_config`]), or it fails on its first request
//! with "no HTTP client".
//!
//! **Short retry backoff.** The SDK's standard retry mode waits up to 1 s, then 2 s (its
//! defaults: 1 s initial, 20 s cap) before its second and third attempts: 3 s of a consumer's
//! 5–10 s, so a few throttled calls in one record used to time out the **whole** batch, and
//! every record of it came back (the 200-order soak filled the DLQs so). Here the backoff
//! starts at [`RETRY_INITIAL_BACKOFF`] and never exceeds [`RETRY_MAX_BACKOFF`]: a call gives
//! up within about a second, its record fails alone and SQS (or the workflow's `Retry`)
//! retries it later, which is the retry that spaces out a real overload. Still standard mode,
//! still 3 attempts (`AWS_MAX_ATTEMPTS` changes that).
//!
//! **Round trips counted.** Every call goes through a [`RecordingClient`], which notes it in
//! the log of the request it was made for ([`crate::round_trips`]): `serve` logs how many calls
//! a request made and how many it waited for in turn.
//!
//! **Faults on the local stack.** With `LAMBDA_KIT_FAULTS` set and `AWS_ENDPOINT_URL` on a
//! loopback address, the client is wrapped in a [`FaultInjectingClient`] that fails or slows
//! down a configured fraction of calls the way AWS does (see [`crate::faults`]); anywhere else
//! the variable is logged and ignored.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};

use crate::faults::{self, FaultInjectingClient, FaultSpecError};
use crate::round_trips::RecordingClient;

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority – G2 (PEM).
pub const AMAZON_TRUST_ROOTS_PEM: &[u8] = include_bytes!("aws/amazon-trust-roots.pem");

/// First retry waits at most this (jittered), each later one twice as long.
pub const RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// No retry waits longer than this.
pub const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The retry policy of every client: standard mode, short backoff (module doc), attempts from
/// `AWS_MAX_ATTEMPTS` when it is a positive number, else the SDK's 3.
pub fn retry_config() -> RetryConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3);
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(RETRY_INITIAL_BACKOFF)
        .with_max_backoff(RETRY_MAX_BACKOFF)
}

/// Environment variable that switches back to the system's CA store.
pub const NATIVE_ROOTS_VAR: &str = "LAMBDA_KIT_TLS_NATIVE_ROOTS";

/// The SDK configuration for the functions' clients. No network calls and no file reads
/// beyond the environment and the (usually absent) shared config files.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// `aws_config::defaults(BehaviorVersion::latest())` with [`https_client`] (behind the fault
/// injector when [`crate::faults::from_env`] enables it) and [`retry_config`]: the starting point for any SDK
/// configuration in this workspace (functions, tools, tests).
///
/// # Panics
///
/// When `LAMBDA_KIT_FAULTS` is malformed and `AWS_ENDPOINT_URL` is a loopback address (the
/// local stack only): a cold-start error naming the rule and the problem, rather than a soak
/// that silently injects nothing. [`try_loader`] returns the error instead.
#[expect(
    clippy::panic,
    reason = "a malformed fault spec on the local stack must stop the function at init"
)]
pub fn loader() -> ConfigLoader {
    try_loader().unwrap_or_else(|err| {
        tracing::error!(error = %err, "invalid fault injection spec");
        panic!("{err}")
    })
}

/// [`loader`], with a malformed `LAMBDA_KIT_FAULTS` (on a loopback endpoint) as an error.
pub fn try_loader() -> Result<ConfigLoader, FaultSpecError> {
    let native_roots = std::env::var(NATIVE_ROOTS_VAR).is_ok_and(|v| v == "1" || v == "true");
    let client = https_client(native_roots);
    let client = match faults::from_env()? {
        Some(spec) => FaultInjectingClient::new(client, spec).into_shared(),
        None => client,
    };
    // Outermost, so that an injected fault is a recorded round trip too.
    let client = RecordingClient::new(client).into_shared();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(client)
        .retry_config(retry_config()))
}

/// Only the bundled Amazon Trust Services roots.
fn amazon_trust_store() -> TrustStore {
    TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_TRUST_ROOTS_PEM)
}

/// The SDK's HTTPS client (hyper, rustls on ring, proxy settings from the environment) trusting
/// the Amazon Trust Services roots, or the system's roots with `native_roots`.
pub fn https_client(native_roots: bool) -> SharedHttpClient {
    let trust = if native_roots {
        TrustStore::default()
    } else {
        amazon_trust_store()
    };
    // Building the context only fails on an unusable PEM (the bundled one is checked by a
    // unit test); the system store is the safe fallback rather than a function that cannot start.
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .inspect_err(|err| tracing::warn!(error = %err, "trust roots unusable; using the system's"))
        .unwrap_or_default();
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_briefly() {
        let retry = retry_config();
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(retry.initial_backoff(), RETRY_INITIAL_BACKOFF);
        assert_eq!(retry.max_backoff(), RETRY_MAX_BACKOFF);
        assert!(retry.max_attempts() >= 1);
    }

    #[test]
    fn bundled_roots_are_five_certificates_and_build_a_client() {
        let pem = String::from_utf8_lossy(AMAZON_TRUST_ROOTS_PEM);
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        let pem_context = TlsContext::builder()
            .with_trust_store(amazon_trust_store())
            .build();
        pem_context.unwrap();
        let client = https_client(false);
        // Client construction builds a connector, which parses the bundled roots (a bad PEM
        // would panic here, at cold start, rather than on the first request).
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests());
        config.set_http_client(Some(client));
        let config = config.build();
        let _client = aws_sdk_dynamodb::Client::from_conf(config);
    }
}
