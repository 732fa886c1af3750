//! cart-api Lambda: wiring only. The handler lives in `shop_core::cart`.

use lambda_http::{Error, Request, service_fn};
use lambda_kit::config::Settings;
use lambda_kit::telemetry;
use shop_core::auth::{DynamoSessionStore, DynamoUserStore};
use shop_core::cart::{CartApi, CartApiSettings, DynamoCartStore, FUNCTION_NAME};
use shop_core::catalog::{CachedProducts, DynamoProductStore};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = CartApiSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    // Built once per execution environment; no network calls or CA bundle reads in init.
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let api = CartApi::new(
        // Prices for display, a few seconds stale at most; checkout prices from the table.
        CachedProducts::new(
            DynamoProductStore::new(dynamodb.clone(), settings.products_table),
            settings.price_cache,
        ),
        DynamoSessionStore::new(dynamodb.clone(), settings.sessions_table.clone()),
        DynamoCartStore::new(dynamodb.clone(), settings.sessions_table),
        // Signed-in sessions are checked for account locks.
        DynamoUserStore::new(dynamodb, settings.users_table),
        settings.session_ttl_seconds,
    )
    .with_session_max_age(settings.session_max_age_seconds);
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req).await)
    }))
    .await
}
