//! thumbnailer Lambda (SQS consumer of the media bucket's notifications): wiring only. The
//! logic is `shop_core::media` (`thumbnailer.rs`, which says why one record at a time and
//! how much memory).

use lambda_kit::config::Settings;
use lambda_kit::messaging::BatchProcessor;
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::media::{
    DynamoImageRecords, S3ImageObjects, THUMBNAILER_CONCURRENCY, THUMBNAILER_FUNCTION_NAME,
    Thumbnailer, ThumbnailerSettings, run_media_consumer, s3_client,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(THUMBNAILER_FUNCTION_NAME);
    let settings = ThumbnailerSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    // Built once per execution environment; no network calls or CA bundle reads in init.
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let objects = S3ImageObjects::new(s3_client(&sdk_config), settings.media_bucket.clone());
    run_media_consumer(
        BatchProcessor::new(
            THUMBNAILER_FUNCTION_NAME,
            Thumbnailer::new(
                objects,
                DynamoImageRecords::new(dynamodb.clone(), settings.media_table),
                settings.media_bucket,
                settings.limits,
            ),
            settings
                .idempotency
                .into_dynamo(dynamodb, THUMBNAILER_FUNCTION_NAME),
        )
        .with_concurrency(THUMBNAILER_CONCURRENCY),
    )
    .await
}
