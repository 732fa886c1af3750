//! The floor under `make bench`'s per-function figures: a Lambda function that does nothing.
//!
//! Same runtime (`lambda_runtime`, current-thread tokio), logging setup and release profile as
//! the shop's functions; it answers every event with `{"statusCode":200}` and logs nothing.
//! Its warm time under the bench harness is the Runtime API round trip (the harness's HTTP
//! server included) plus the runtime's own event handling: no handler can go below it, so
//! the bench reports the functions' warm time beyond AWS net of it as well.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_kit::telemetry::init("bench-baseline");
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"statusCode": 200}))
    }))
    .await
}
