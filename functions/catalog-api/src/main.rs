//! catalog-api Lambda: wiring only. The handler lives in `shop_core::catalog`.

use lambda_http::{Error, Request, service_fn};
use lambda_kit::config::Settings;
use lambda_kit::telemetry;
use shop_core::catalog::{CatalogApi, CatalogApiSettings, DynamoProductStore, FUNCTION_NAME};
use shop_core::media::{DynamoProductImages, S3DownloadSigner, s3_client};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = CatalogApiSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    // Built once per execution environment; no network calls or CA bundle reads in init.
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    // Presigning the thumbnails' URLs is local: it signs with the function's credentials.
    let image_url_ttl = settings.image_url_ttl();
    let api = CatalogApi::new(
        DynamoProductStore::new(dynamodb.clone(), settings.products_table.clone()),
        DynamoProductImages::new(dynamodb, settings.products_table),
        S3DownloadSigner::new(s3_client(&sdk_config), settings.media_bucket),
    )
    .with_image_url_ttl(image_url_ttl);
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req).await)
    }))
    .await
}
