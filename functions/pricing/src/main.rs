//! pricing Lambda (checkout workflow step `PriceOrder`): wiring only. The logic is
//! `shop_core::pricing`; errors carry the explicit `errorType`s of `shop_core::checkout::error_types`.

use lambda_kit::config::Settings;
use lambda_kit::step::run_step;
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::catalog::DynamoProductStore;
use shop_core::pricing::{FUNCTION_NAME, Pricing, PricingSettings, STEP};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = PricingSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let pricing = Pricing::new(DynamoProductStore::new(dynamodb, settings.products_table));
    let pricing = &pricing;
    run_step(STEP, move |input| pricing.handle(input)).await
}
