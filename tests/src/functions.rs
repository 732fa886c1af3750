//! Lambda functions of the stack: their configuration, changed and restored by the tests that
//! break a function on purpose (outage, soak).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_lambda::types::{Environment, LastUpdateStatus};

use crate::{Stack, eventually};

impl Stack {
    /// A function's environment variables.
    pub async fn environment(&self, function: &str) -> HashMap<String, String> {
        self.lambda()
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .expect("function configuration")
            .environment
            .and_then(|e| e.variables)
            .unwrap_or_default()
    }

    /// Replaces a function's environment variables and waits until the update is done (new
    /// execution environments start with them).
    pub async fn set_environment(&self, function: &str, variables: HashMap<String, String>) {
        self.lambda()
            .update_function_configuration()
            .function_name(function)
            .environment(
                Environment::builder()
                    .set_variables(Some(variables))
                    .build(),
            )
            .send()
            .await
            .expect("update the function configuration");
        eventually(
            &format!("{function} updated"),
            Duration::from_secs(60),
            || async {
                let config = self
                    .lambda()
                    .get_function_configuration()
                    .function_name(function)
                    .send()
                    .await
                    .ok()?;
                matches!(
                    config.last_update_status,
                    Some(LastUpdateStatus::Successful) | None
                )
                .then_some(())
            },
        )
        .await;
    }
}
