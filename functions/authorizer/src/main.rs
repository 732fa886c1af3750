//! authorizer Lambda (API Gateway TOKEN authorizer): wiring only. The decision is
//! `shop_core::auth::authorizer`, around the same `authenticate` the handlers use.

use lambda_kit::config::Settings;
use lambda_kit::telemetry;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use shop_core::auth::authorizer::{
    Authorizer, AuthorizerResponse, FUNCTION_NAME, TokenAuthorizerEvent,
};
use shop_core::auth::{AuthorizerSettings, DynamoSessionStore, DynamoUserStore};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = AuthorizerSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let authorizer = Authorizer::new(
        DynamoSessionStore::new(dynamodb.clone(), settings.sessions_table),
        DynamoUserStore::new(dynamodb, settings.users_table),
    );
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<TokenAuthorizerEvent>| async move {
            let decision = authorizer
                .authorize(&event.payload)
                .await
                .map_err(Diagnostic::from)
                .map(|response: AuthorizerResponse| response);
            // Its own loop: the invocation's metrics (the cold start) leave here.
            lambda_kit::metrics::flush();
            decision
        },
    ))
    .await
}
