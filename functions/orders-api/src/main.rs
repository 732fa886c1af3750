//! orders-api Lambda: wiring only. The handler lives in `shop_core::orders::api`.

use lambda_http::{Error, Request, service_fn};
use lambda_kit::config::Settings;
use lambda_kit::telemetry;
use lambda_kit::workflow::SfnWorkflows;
use shop_core::auth::{DynamoSessionStore, DynamoUserStore};
use shop_core::orders::api::FUNCTION_NAME;
use shop_core::orders::{DynamoOrderStore, OrdersApi, OrdersApiSettings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = OrdersApiSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    // Built once per execution environment; no network calls or CA bundle reads in init.
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let api = OrdersApi::new(
        DynamoOrderStore::new(dynamodb.clone(), settings.orders_table),
        SfnWorkflows::new(aws_sdk_sfn::Client::new(&sdk_config)),
        DynamoSessionStore::new(dynamodb.clone(), settings.sessions_table),
        // Signed-in sessions are checked for account locks.
        DynamoUserStore::new(dynamodb, settings.users_table),
        settings.cancel_state_machine_arn,
    )
    .with_cancel_run_timeout(settings.cancel_run_timeout_seconds);
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req).await)
    }))
    .await
}
