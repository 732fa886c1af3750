//! tight-login Lambda (the coupling experiment's tightly coupled login): wiring only. The
//! handler is `bench_coupling::TightLogin`.

use std::sync::Arc;

use bench_coupling::{
    CapturedEvents, FUNCTION_NAME, LambdaFraudCheck, TightLogin, TightLoginSettings,
};
use lambda_http::{Error, Request, service_fn};
use lambda_kit::config::Settings;
use lambda_kit::telemetry;
use shop_core::auth::api::AuthApi;
use shop_core::auth::{DynamoSessionStore, DynamoUserStore};
use shop_core::cart::DynamoCartStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = TightLoginSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let auth = settings.auth;
    // Built once per execution environment; no network calls in init.
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let captured = Arc::new(CapturedEvents::default());
    let api = AuthApi::new(
        DynamoSessionStore::new(dynamodb.clone(), auth.sessions_table.clone()),
        DynamoCartStore::new(dynamodb.clone(), auth.sessions_table),
        DynamoUserStore::new(dynamodb, auth.users_table),
        Arc::clone(&captured),
        auth.session_ttl_seconds,
    )
    .with_session_max_age(auth.session_max_age_seconds)
    .with_attempt_limits(auth.attempt_limits);
    let fraud = LambdaFraudCheck::new(
        aws_sdk_lambda::Client::new(&sdk_config),
        settings.fraud_function,
        settings.fraud_timeout,
    );
    let login = TightLogin::new(api, captured, fraud);
    let login = &login;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(login.handle(req).await)
    }))
    .await
}
