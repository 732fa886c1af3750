//! payment Lambda (checkout workflow steps `ChargePayment` and `RefundPayment`): wiring only.
//! The logic is `shop_core::payment`; errors carry the explicit `errorType`s of
//! `shop_core::checkout::error_types`.

use lambda_kit::config::Settings;
use lambda_kit::step::run_step;
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::payment::{
    DynamoPaymentStore, FUNCTION_NAME, PaymentSettings, PaymentStep, STEP, SimulatedProvider,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = PaymentSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let step = PaymentStep::new(
        SimulatedProvider::new(DynamoPaymentStore::new(dynamodb, settings.payments_table))
            .with_retry_after(settings.pending_retry_after_seconds),
    );
    let step = &step;
    run_step(STEP, move |input| step.handle(input)).await
}
