//! auth-api Lambda: wiring only. The handler lives in `shop_core::auth::api`.

use lambda_http::{Error, Request, service_fn};
use lambda_kit::config::Settings;
use lambda_kit::messaging::SnsPublisher;
use lambda_kit::telemetry;
use shop_core::auth::api::{AuthApi, FUNCTION_NAME};
use shop_core::auth::{AuthApiSettings, DynamoSessionStore, DynamoUserStore};
use shop_core::cart::DynamoCartStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = AuthApiSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    // Built once per execution environment; no network calls or CA bundle reads in init.
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let api = AuthApi::new(
        DynamoSessionStore::new(dynamodb.clone(), settings.sessions_table.clone()),
        DynamoCartStore::new(dynamodb.clone(), settings.sessions_table),
        DynamoUserStore::new(dynamodb, settings.users_table),
        SnsPublisher::new(aws_sdk_sns::Client::new(&sdk_config), settings.topic_arn),
        settings.session_ttl_seconds,
    )
    .with_session_max_age(settings.session_max_age_seconds)
    .with_attempt_limits(settings.attempt_limits);
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req).await)
    }))
    .await
}
