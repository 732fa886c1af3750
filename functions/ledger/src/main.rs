//! ledger Lambda (SQS FIFO consumer of payments-ledger.fifo): wiring only. The logic is
//! `shop_core::consumers::ledger` (strictly ordered, a failure holds back its group).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shop_core::config::env_required;
use shop_core::consumers::ledger::{DynamoLedgerStore, FUNCTION_NAME, Ledger};
use shop_core::messaging::{SqsBatchResponse, SqsEvent};
use shop_core::telemetry;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let ledger_table = env_required("LEDGER_TABLE")
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = shop_core::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let ledger = Ledger::new(DynamoLedgerStore::new(dynamodb, ledger_table));
    let ledger = &ledger;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(ledger.process(event.payload).await)
    }))
    .await
}
