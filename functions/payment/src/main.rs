//! payment Lambda (checkout workflow steps `ChargePayment` and `RefundPayment`): wiring only.
//! The logic is `shop_core::payment`; errors carry the explicit `errorType`s of
//! `shop_core::step`.

use lambda_runtime::Error;
use shop_core::config::env_required;
use shop_core::payment::{DynamoPaymentStore, FUNCTION_NAME, PaymentStep, SimulatedProvider};
use shop_core::step::run_step;
use shop_core::telemetry;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let payments_table = env_required("PAYMENTS_TABLE")
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = shop_core::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let step = PaymentStep::new(SimulatedProvider::new(DynamoPaymentStore::new(
        dynamodb,
        payments_table,
    )));
    let step = &step;
    run_step(FUNCTION_NAME, move |input| step.handle(input)).await
}
