//! Requests to the deployed API: [`Stack::call`] (and its variants with a content type or
//! extra headers, [`Stack::get`]), the [`ApiResponse`] with its status assertions, and
//! [`query_value`] for query strings.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::Stack;

impl Stack {
    /// Sends a request to the API; `path` starts with `/` and is relative to the stage.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> ApiResponse {
        self.call_with_content_type(method, path, token, body, "application/json")
            .await
    }

    /// Like [`Stack::call`], with the body sent under `content_type`.
    pub async fn call_with_content_type(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        content_type: &str,
    ) -> ApiResponse {
        let body = body.map(|body| (content_type, body));
        self.send(method, path, token, body, &[]).await
    }

    /// Like [`Stack::call`], with extra request headers.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let body = body.map(|body| ("application/json", body));
        self.send(method, path, token, body, headers).await
    }

    /// The one place requests are built and answers read: bearer token, extra headers, a body
    /// with its content type; the answer's body must be JSON (or empty).
    // A repeated request is printed: worth seeing in a soak's log.
    #[allow(clippy::print_stderr)]
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let url = format!("{}{path}", self.output("ApiBaseUrl"));
        let build = || {
            let mut request = self.http().request(method.clone(), &url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some((content_type, body)) = &body {
                request = request
                    .header("content-type", *content_type)
                    .body(body.clone());
            }
            request
        };
        // A request that is safe to repeat is repeated when the connection drops (LocalStack's
        // gateway under load), as a client would: GET, PUT and DELETE (idempotent methods), a
        // POST carrying an Idempotency-Key, and a cancel (idempotent by contract: the same run,
        // or a new one when the previous failed). Anything else fails the test at once.
        let repeatable = [Method::GET, Method::PUT, Method::DELETE].contains(&method)
            || headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("idempotency-key"))
            || (method == Method::POST && path.ends_with("/cancel"));
        let mut attempt = 1;
        let response = loop {
            match build().send().await {
                Ok(response) => break response,
                Err(e) if repeatable && attempt < 5 => {
                    eprintln!("{method} {path}: attempt {attempt} failed ({e:?}), repeating");
                    tokio::time::sleep(std::time::Duration::from_millis(250 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => panic!("the API answers {method} {path}: {e:?}"),
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"))
        };
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> ApiResponse {
        self.call(Method::GET, path, token, None).await
    }
}

/// A response from the API with its JSON body (Null when empty).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl ApiResponse {
    pub fn expect_status(&self, status: StatusCode) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an error response: the status and the `error.code` of the JSON body.
    pub fn expect_error(&self, status: StatusCode, code: &str) -> &Self {
        self.expect_status(status);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "an error names the problem: {}",
            self.body
        );
        self
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
pub fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
