//! authorizer Lambda (API Gateway TOKEN authorizer): wiring only. The decision is
//! `shop_core::auth::authorizer`, around the same `authenticate` the handlers use.

use lambda_kit::config::env_required;
use lambda_kit::telemetry;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use shop_core::auth::DynamoSessionStore;
use shop_core::auth::DynamoUserStore;
use shop_core::auth::authorizer::{
    Authorizer, AuthorizerResponse, FUNCTION_NAME, TokenAuthorizerEvent,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let (sessions_table, users_table) = (|| {
        Ok::<_, shop_core::config::ConfigError>((
            env_required("SESSIONS_TABLE")?,
            env_required("USERS_TABLE")?,
        ))
    })()
    .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let authorizer = Authorizer::new(
        DynamoSessionStore::new(dynamodb.clone(), sessions_table),
        DynamoUserStore::new(dynamodb, users_table),
    );
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<TokenAuthorizerEvent>| async move {
            authorizer
                .authorize(&event.payload)
                .await
                .map_err(Diagnostic::from)
                .map(|response: AuthorizerResponse| response)
        },
    ))
    .await
}
