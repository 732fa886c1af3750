//! Helpers shared by the unit tests.

use std::collections::HashMap;

use lambda_http::http::Request as HttpRequest;
use lambda_http::{Body, Request, RequestExt as _, Response};

use crate::catalog::{Currency, Money, Product, Sku};
use crate::config::{ConfigError, Settings};

/// The SDK configuration of the `#[ignore]`d real-table tests: `AWS_ENDPOINT_URL` (default
/// LocalStack's), test credentials.
pub async fn local_sdk_config() -> aws_config::SdkConfig {
    lambda_kit::aws::loader()
        .endpoint_url(
            std::env::var("AWS_ENDPOINT_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned()),
        )
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .load()
        .await
}

pub fn sku(value: &str) -> Sku {
    Sku::parse(value).unwrap()
}

pub fn product(value: &str, price_minor: i64, stock: u32) -> Product {
    Product {
        sku: sku(value),
        name: format!("Product {value}"),
        description: format!("About {value}"),
        price: Money::new(price_minor, Currency::EUR),
        stock,
    }
}

/// A request as `cargo lambda watch` would pass it (no API Gateway context): routed by path.
pub fn request(method: &str, path: &str, token: Option<&str>, body: &str) -> Request {
    let mut builder = HttpRequest::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::from(body)
    };
    builder.body(body).unwrap_or_default()
}

pub fn get(path: &str, query: &[(&str, &str)]) -> Request {
    let query: HashMap<String, String> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    request("GET", path, None, "").with_query_string_parameters(query)
}

pub fn body_json(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(serde_json::Value::Null)
}

/// Reads `events/<function>/<name>.json` and turns it into a request exactly as the Lambda
/// runtime does.
pub fn event(function: &str, name: &str) -> Request {
    let path = format!(
        "{}/../../events/{function}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let parsed: lambda_http::request::LambdaRequest =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    Request::from(parsed)
}

/// Settings read from `vars` (name, value) instead of the process environment.
pub fn settings_from<S: Settings>(vars: &[(&str, &str)]) -> Result<S, ConfigError> {
    S::from_lookup(&|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

/// `vars` with `name` set to `value` (replaced, or added).
pub fn with_var<'a>(
    vars: &[(&'a str, &'a str)],
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut vars = without_var(vars, name);
    vars.push((name, value));
    vars
}

/// `vars` without `name`.
pub fn without_var<'a>(vars: &[(&'a str, &'a str)], name: &str) -> Vec<(&'a str, &'a str)> {
    vars.iter().copied().filter(|(n, _)| *n != name).collect()
}

/// Each of `required`, left out of `vars` or blank, is the error `Missing` of its name.
pub fn assert_each_required<S: Settings + std::fmt::Debug>(
    vars: &[(&str, &str)],
    required: &[&'static str],
) {
    for &name in required {
        assert_eq!(
            settings_from::<S>(&without_var(vars, name)).err(),
            Some(ConfigError::Missing(name)),
            "{name} left out"
        );
        assert_eq!(
            settings_from::<S>(&with_var(vars, name, "  ")).err(),
            Some(ConfigError::Missing(name)),
            "{name} blank"
        );
    }
}

/// `name` = `value` in `vars` is the error `Invalid` of that name and value.
pub fn assert_invalid<S: Settings + std::fmt::Debug>(
    vars: &[(&str, &str)],
    name: &'static str,
    value: &str,
) {
    let err = settings_from::<S>(&with_var(vars, name, value)).err();
    assert!(
        matches!(
            &err,
            Some(ConfigError::Invalid { name: n, value: v, .. }) if *n == name && v == value
        ),
        "{name} = {value:?}: {err:?}"
    );
}
