//! catalog-images Lambda (SQS consumer of the media bucket's notifications): wiring only.
//! The logic is `shop_core::media` (`catalog.rs`).

use lambda_kit::config::Settings;
use lambda_kit::messaging::BatchProcessor;
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::media::{
    CATALOG_IMAGES_FUNCTION_NAME, CatalogImages, CatalogImagesSettings, DynamoImageRecords,
    DynamoProductImages, run_media_consumer,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(CATALOG_IMAGES_FUNCTION_NAME);
    let settings = CatalogImagesSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    // Built once per execution environment; no network calls or CA bundle reads in init.
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    run_media_consumer(BatchProcessor::new(
        CATALOG_IMAGES_FUNCTION_NAME,
        CatalogImages::new(
            DynamoImageRecords::new(dynamodb.clone(), settings.media_table.clone()),
            // Guarded: an image deleted while this publishes it is not brought back.
            DynamoProductImages::new(dynamodb.clone(), settings.products_table)
                .guarded_by(settings.media_table),
            settings.media_bucket,
        ),
        settings
            .idempotency
            .into_dynamo(dynamodb, CATALOG_IMAGES_FUNCTION_NAME),
    ))
    .await
}
