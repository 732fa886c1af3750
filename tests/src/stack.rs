//! [`Stack`]: the deployed stack's outputs ([`Stack::load`], [`Stack::output`],
//! [`Stack::tunable`]), its SDK clients, and [`Stack::invoke`] to call a function directly.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

/// The variable naming the stack outputs file; `make integration-test` sets it.
const STACK_OUTPUTS_VAR: &str = "SHOP_STACK_OUTPUTS";

/// The deployed stack, as described by its CloudFormation outputs.
#[derive(Debug, Clone)]
pub struct Stack {
    outputs: HashMap<String, String>,
    http: reqwest::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    lambda: aws_sdk_lambda::Client,
    sfn: aws_sdk_sfn::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    s3: aws_sdk_s3::Client,
}

impl Stack {
    /// Loads the outputs file named by `SHOP_STACK_OUTPUTS` (written by `make up`). Panics
    /// with a hint to run `make up` when the variable is unset or the file unreadable.
    pub async fn load() -> Self {
        // Required rather than defaulted to `.local/stack-outputs.json`: a plain `cargo test`
        // must not run these tests half-configured (the SDK clients would leave LocalStack
        // for AWS without the environment of `infra/local/env.sh`), but fail saying why.
        let path = std::env::var_os(STACK_OUTPUTS_VAR)
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "{STACK_OUTPUTS_VAR} is not set: these tests need the stack on LocalStack; \
                     run `make up` first, then `make integration-test` (it sets \
                     {STACK_OUTPUTS_VAR} and the SDK environment of infra/local/env.sh)"
                )
            });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read stack outputs at {}: {e}; run `make up` first",
                path.display()
            )
        });
        let outputs: HashMap<String, String> =
            serde_json::from_str(&text).expect("stack outputs are a JSON object of strings");
        let config = lambda_kit::aws::sdk_config().await;
        Self {
            http: api_client(&outputs),
            outputs,
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            // Path-style on LocalStack, as the functions' (shop_core::media::s3_client).
            s3: shop_core::media::s3_client(&config),
        }
    }

    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("stack output {key} is missing"))
    }

    /// The checkout machine's log group (its Express runs' events): the stack output
    /// `CheckoutLogGroupName`, else the name the template gives it,
    /// `/aws/vendedlogs/states/<checkout machine name>`.
    pub fn checkout_log_group(&self) -> String {
        self.log_group("CheckoutLogGroupName", "CheckoutStateMachineArn")
    }

    /// The cancel-order machine's log group (`CancelOrderLogGroupName`, else derived the same
    /// way from `CancelOrderStateMachineArn`).
    pub fn cancel_order_log_group(&self) -> String {
        self.log_group("CancelOrderLogGroupName", "CancelOrderStateMachineArn")
    }

    /// The approval machine (Standard: runs `approval-<orderId>`), if the stack has one.
    pub fn approval_state_machine_arn(&self) -> Option<&str> {
        self.outputs
            .get("ApprovalStateMachineArn")
            .map(String::as_str)
    }

    fn log_group(&self, output: &str, machine_output: &str) -> String {
        match self.outputs.get(output) {
            Some(group) => group.clone(),
            None => {
                let machine = self.output(machine_output);
                let name = machine.rsplit(':').next().unwrap_or(machine);
                format!("/aws/vendedlogs/states/{name}")
            }
        }
    }

    /// A numeric stack output (a tunable of the local stack), or `default` when the stack
    /// does not export it.
    pub fn tunable(&self, key: &str, default: u64) -> u64 {
        self.outputs
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// The HTTP client of [`crate::http`]; crate-private so requests go through `Stack::call`.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        &self.dynamodb
    }

    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    pub fn sns(&self) -> &aws_sdk_sns::Client {
        &self.sns
    }

    pub fn lambda(&self) -> &aws_sdk_lambda::Client {
        &self.lambda
    }

    pub fn logs(&self) -> &aws_sdk_cloudwatchlogs::Client {
        &self.logs
    }

    pub fn sfn(&self) -> &aws_sdk_sfn::Client {
        &self.sfn
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// Invokes a function directly; returns (function error, payload).
    pub async fn invoke(&self, function: &str, payload: &Value) -> (Option<String>, Value) {
        let output = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
            .send()
            .await
            .expect("invoke the function");
        let body = output
            .payload()
            .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        (output.function_error().map(str::to_owned), body)
    }
}

/// The client of the API: over HTTPS it trusts LocalStack's certificate (`LocalCaFile`, exported
/// by `infra/local/start.sh`) and nothing else; verification is never switched off.
fn api_client(outputs: &HashMap<String, String>) -> reqwest::Client {
    // Once per process; a second install reports the first one, which is the same provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = outputs
        .get("ApiBaseUrl")
        .is_some_and(|url| url.starts_with("https://"));
    if !https {
        return reqwest::Client::new();
    }
    let ca = outputs
        .get("LocalCaFile")
        .expect("stack output LocalCaFile is missing: run `make up`");
    let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("cannot read the CA {ca}: {e}"));
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .unwrap_or_else(|e| panic!("{ca} is not a PEM certificate: {e}"));
    reqwest::Client::builder()
        .tls_certs_only(certificates)
        .build()
        .expect("an HTTPS client trusting LocalStack's certificate")
}
