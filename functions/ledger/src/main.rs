//! ledger Lambda (SQS FIFO consumer of payments-ledger.fifo): wiring only. The logic is
//! `shop_core::ledger` (strictly ordered, a failure holds back its group).

use lambda_kit::config::Settings;
use lambda_kit::messaging::{BatchDeadline, SqsBatchResponse, SqsEvent};
use lambda_kit::telemetry;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shop_core::ledger::{DynamoLedgerStore, FUNCTION_NAME, Ledger, LedgerSettings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = LedgerSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let ledger = Ledger::new(DynamoLedgerStore::new(dynamodb, settings.ledger_table));
    let ledger = &ledger;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline =
            BatchDeadline::for_invocation(event.context.deadline(), std::time::SystemTime::now());
        Ok::<SqsBatchResponse, Error>(ledger.process_within(event.payload, deadline).await)
    }))
    .await
}
