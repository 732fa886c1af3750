//! The local API is called over HTTPS, as users call the deployed one: LocalStack's own
//! certificate (exported by `make up` to `LocalCaFile`) is the one CA trusted, and a client
//! that does not trust it is refused — verification is on, not switched off.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use reqwest::StatusCode;
use shop_tests::Stack;

#[tokio::test]
async fn the_api_answers_over_verified_https() {
    let stack = Stack::load().await;
    let base = stack.output("ApiBaseUrl");
    assert!(base.starts_with("https://localhost:"), "{base}");

    stack
        .get("/products?limit=1", None)
        .await
        .expect_status(StatusCode::OK);

    // The same request from a client that trusts no CA at all fails the TLS handshake.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only(Vec::new())
        .build()
        .unwrap();
    let refused = untrusting
        .get(format!("{base}/products?limit=1"))
        .send()
        .await;
    let err = refused.expect_err("a certificate nobody vouched for must be refused");
    assert!(err.is_connect(), "{err:?}");
}
