//! images-api Lambda: wiring only. The handler lives in `shop_core::media::api`.

use lambda_http::{Error, Request, service_fn};
use lambda_kit::config::Settings;
use lambda_kit::telemetry;
use shop_core::auth::{DynamoSessionStore, DynamoUserStore};
use shop_core::catalog::DynamoProductStore;
use shop_core::media::{
    DynamoImageRecords, DynamoProductImages, IMAGES_API_FUNCTION_NAME, ImagesApi,
    ImagesApiSettings, S3ImageObjects, S3UploadSigner, s3_client,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(IMAGES_API_FUNCTION_NAME);
    let settings = ImagesApiSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    // Built once per execution environment; no network calls or CA bundle reads in init
    // (presigning is local: it signs with the function's credentials).
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let s3 = s3_client(&sdk_config);
    let api = ImagesApi::new(
        DynamoProductStore::new(dynamodb.clone(), settings.products_table.clone()),
        DynamoProductImages::new(dynamodb.clone(), settings.products_table),
        DynamoImageRecords::new(dynamodb.clone(), settings.media_table),
        S3ImageObjects::new(s3.clone(), settings.media_bucket.clone()),
        S3UploadSigner::new(s3, settings.media_bucket),
        DynamoSessionStore::new(dynamodb.clone(), settings.sessions_table),
        // The caller's role is read here on every request, and account locks.
        DynamoUserStore::new(dynamodb, settings.users_table),
    )
    .with_limits(settings.limits)
    .with_upload_url_seconds(settings.upload_url_seconds);
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(api.handle(req).await)
    }))
    .await
}
