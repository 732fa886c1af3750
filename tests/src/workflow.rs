//! The checkout workflow's Step Functions executions: [`Stack::execution_arn`],
//! [`Stack::history`], and what it shows: [`Stack::states_entered`],
//! [`Stack::task_failures`], [`Stack::failures_of`].

use crate::Stack;

impl Stack {
    /// The ARN of the checkout execution of an order (named after the order id).
    pub fn execution_arn(&self, order_id: &str) -> String {
        let machine = self.output("CheckoutStateMachineArn");
        format!(
            "{}:{order_id}",
            machine.replacen(":stateMachine:", ":execution:", 1)
        )
    }

    /// The whole history of an execution.
    pub async fn history(&self, execution_arn: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
        let mut events = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .sfn()
                .get_execution_history()
                .execution_arn(execution_arn)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .expect("get the execution history");
            events.extend(page.events().iter().cloned());
            match page.next_token() {
                Some(token) => next = Some(token.to_owned()),
                None => return events,
            }
        }
    }

    /// Failed task attempts in an execution, in order: (state, error name). A failure
    /// belongs to the state entered last before it (tasks outside Maps run one at a time).
    pub async fn task_failures(&self, execution_arn: &str) -> Vec<(String, String)> {
        let mut state = String::new();
        let mut failures = Vec::new();
        for event in self.history(execution_arn).await {
            if let Some(entered) = event.state_entered_event_details() {
                state = entered.name().to_owned();
            }
            let error = event
                .task_failed_event_details()
                .and_then(|d| d.error())
                .or_else(|| {
                    event
                        .lambda_function_failed_event_details()
                        .and_then(|d| d.error())
                });
            if let Some(error) = error {
                failures.push((state.clone(), error.to_owned()));
            }
        }
        failures
    }

    /// The error names of the failed attempts of one state of an execution.
    pub async fn failures_of(&self, execution_arn: &str, state: &str) -> Vec<String> {
        self.task_failures(execution_arn)
            .await
            .into_iter()
            .filter(|(s, _)| s == state)
            .map(|(_, e)| e)
            .collect()
    }

    /// The states an execution entered, in order.
    pub async fn states_entered(&self, execution_arn: &str) -> Vec<String> {
        self.history(execution_arn)
            .await
            .iter()
            .filter_map(|e| e.state_entered_event_details().map(|d| d.name().to_owned()))
            .collect()
    }
}
