//! fraud-detector Lambda (SQS consumer): wiring only. The logic is
//! `shop_core::consumers::fraud`.

use lambda_kit::config::{ConfigError, env_positive, env_required};
use lambda_kit::messaging::{BatchProcessor, IdempotencyConfig, SnsPublisher, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::auth::DynamoUserStore;
use shop_core::fraud::{DynamoFraudStore, FUNCTION_NAME, FraudDetector, FraudSettings};

struct Settings {
    fraud_table: String,
    users_table: String,
    topic_arn: String,
    idempotency: IdempotencyConfig,
    fraud: FraudSettings,
}

/// A positive count from the environment (`default` when unset).
fn env_count(name: &'static str, default: u32) -> Result<u32, ConfigError> {
    Ok(u32::try_from(env_positive(name, i64::from(default))?).unwrap_or(default))
}

fn settings() -> Result<Settings, ConfigError> {
    let defaults = FraudSettings::default();
    Ok(Settings {
        fraud_table: env_required("FRAUD_TABLE")?,
        users_table: env_required("USERS_TABLE")?,
        topic_arn: env_required("EVENTS_TOPIC_ARN")?,
        idempotency: IdempotencyConfig::from_env()?,
        fraud: FraudSettings {
            window_seconds: env_positive("FRAUD_WINDOW_SECONDS", defaults.window_seconds)?,
            lock_threshold: u32::try_from(env_positive(
                "FRAUD_THRESHOLD",
                i64::from(defaults.lock_threshold),
            )?)
            .unwrap_or(defaults.lock_threshold),
            lock_seconds: env_positive("FRAUD_LOCK_SECONDS", defaults.lock_seconds)?,
            flag_threshold: env_count("FRAUD_FLAG_THRESHOLD", defaults.flag_threshold)?,
            order_velocity: env_count("FRAUD_ORDER_VELOCITY", defaults.order_velocity)?,
        },
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings =
        settings().inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let sns = aws_sdk_sns::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        FraudDetector::new(
            DynamoFraudStore::new(dynamodb.clone(), settings.fraud_table),
            DynamoUserStore::new(dynamodb.clone(), settings.users_table),
            SnsPublisher::new(sns, settings.topic_arn),
            settings.fraud,
        ),
        settings.idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
