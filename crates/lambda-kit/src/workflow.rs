//! Step Functions behind a small trait: start an execution, answer a `.waitForTaskToken` task.
//!
//! The APIs only need these three calls, and their unit tests must not need AWS: the
//! [`SfnWorkflows`] implementation wraps `aws-sdk-sfn`, [`InMemoryWorkflows`] records calls
//! and can be told to fail.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{DisplayErrorContext, SdkError};

use crate::sync::lock;

/// What `StartExecution` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new execution (or, for the same name and input while it runs, the same one).
    New {
        /// Its ARN.
        execution_arn: String,
    },
    /// An execution with this name exists already (running with another input, or
    /// finished): the work it names was started before.
    AlreadyExists,
}

/// A Step Functions call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The task token no longer names a waiting task: it timed out, was already answered,
    /// or is not a token at all (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`).
    #[error("the task is no longer waiting: {0}")]
    TaskGone(String),
    /// Anything else (network, throttling, permissions, a missing state machine).
    #[error("step functions {operation} failed: {message}")]
    Backend {
        /// Which call.
        operation: &'static str,
        /// The SDK's description, with causes.
        message: String,
    },
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    /// Still running.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Ended in a `Fail` state or an unhandled error.
    Failed,
    /// Ran out of time.
    TimedOut,
    /// Stopped by someone.
    Aborted,
}

impl ExecutionStatus {
    /// Whether the run ended without succeeding (a new run may be needed).
    pub const fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::Aborted)
    }
}

/// The Step Functions calls an API makes: start a run, read its status, answer a waiting
/// task.
pub trait Workflows: Send + Sync {
    /// The status of the run of `state_machine_arn` named `name`; `None` if there is none.
    fn execution_status(
        &self,
        state_machine_arn: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<ExecutionStatus>, WorkflowError>> + Send;

    /// Starts an execution of `state_machine_arn` named `name` with `input` (JSON).
    fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<Started, WorkflowError>> + Send;

    /// Completes a waiting task successfully with `output` (JSON).
    fn send_task_success(
        &self,
        task_token: &str,
        output: &str,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send;

    /// Fails a waiting task with `error` (what the ASL's `Catch` matches) and `cause`.
    fn send_task_failure(
        &self,
        task_token: &str,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send;
}

/// The ARN an execution named `name` of `state_machine_arn` has
/// (`arn:…:stateMachine:<sm>` → `arn:…:execution:<sm>:<name>`); used when
/// `ExecutionAlreadyExists` does not say it.
pub fn execution_arn_of(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

fn backend<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> WorkflowError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |err| WorkflowError::Backend {
        operation,
        message: DisplayErrorContext(&err).to_string(),
    }
}

/// Step Functions through `aws-sdk-sfn`.
#[derive(Debug, Clone)]
pub struct SfnWorkflows {
    client: Client,
}

impl SfnWorkflows {
    /// Calls through `client` (build it once per process).
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl Workflows for SfnWorkflows {
    async fn execution_status(
        &self,
        state_machine_arn: &str,
        name: &str,
    ) -> Result<Option<ExecutionStatus>, WorkflowError> {
        use aws_sdk_sfn::types::ExecutionStatus as Sfn;
        let result = self
            .client
            .describe_execution()
            .execution_arn(execution_arn_of(state_machine_arn, name))
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(match output.status() {
                Sfn::Running | Sfn::PendingRedrive => ExecutionStatus::Running,
                Sfn::Succeeded => ExecutionStatus::Succeeded,
                Sfn::TimedOut => ExecutionStatus::TimedOut,
                Sfn::Aborted => ExecutionStatus::Aborted,
                _ => ExecutionStatus::Failed,
            })),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(err) => Err(backend("DescribeExecution")(err)),
        }
    }

    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<Started, WorkflowError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Started::New {
                execution_arn: output.execution_arn().to_owned(),
            }),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                Ok(Started::AlreadyExists)
            }
            Err(err) => Err(backend("StartExecution")(err)),
        }
    }

    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<(), WorkflowError> {
        let result = self
            .client
            .send_task_success()
            .task_token(task_token)
            .output(output)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_task_timed_out() || e.is_task_does_not_exist() || e.is_invalid_token()
                }) =>
            {
                Err(WorkflowError::TaskGone(
                    DisplayErrorContext(&err).to_string(),
                ))
            }
            Err(err) => Err(backend("SendTaskSuccess")(err)),
        }
    }

    async fn send_task_failure(
        &self,
        task_token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        let result = self
            .client
            .send_task_failure()
            .task_token(task_token)
            .error(error)
            .cause(cause)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_task_timed_out() || e.is_task_does_not_exist() || e.is_invalid_token()
                }) =>
            {
                Err(WorkflowError::TaskGone(
                    DisplayErrorContext(&err).to_string(),
                ))
            }
            Err(err) => Err(backend("SendTaskFailure")(err)),
        }
    }
}

/// One recorded `StartExecution`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartCall {
    /// State machine.
    pub state_machine_arn: String,
    /// Execution name.
    pub name: String,
    /// Input JSON.
    pub input: String,
}

/// How a task was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAnswer {
    /// `SendTaskSuccess` with this output.
    Success(String),
    /// `SendTaskFailure` with this error and cause.
    Failure {
        /// Error name.
        error: String,
        /// Cause.
        cause: String,
    },
}

#[derive(Debug, Default)]
struct Recorded {
    starts: Vec<StartCall>,
    /// Execution names already used, per state machine.
    names: HashSet<(String, String)>,
    /// Tokens of tasks waiting for an answer.
    waiting: HashSet<String>,
    answers: HashMap<String, TaskAnswer>,
    /// Statuses set by tests; a started run without one is running.
    statuses: HashMap<String, ExecutionStatus>,
}

/// Step Functions in memory, for unit tests: names are unique per state machine (as on AWS,
/// a reused name is `AlreadyExists`), tasks must be registered with
/// [`InMemoryWorkflows::add_waiting_task`] and can be answered once.
#[derive(Debug, Default)]
pub struct InMemoryWorkflows {
    recorded: Mutex<Recorded>,
    unavailable: AtomicBool,
}

impl InMemoryWorkflows {
    /// A fake with no executions and no waiting tasks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail with a backend error (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Registers a task waiting for `token`.
    pub fn add_waiting_task(&self, token: &str) {
        lock(&self.recorded).waiting.insert(token.to_owned());
    }

    /// Sets the status of the run `name` (as if it ended so).
    pub fn set_status(&self, name: &str, status: ExecutionStatus) {
        lock(&self.recorded)
            .statuses
            .insert(name.to_owned(), status);
    }

    /// Every `StartExecution` call, in order (including those that found the name taken).
    pub fn starts(&self) -> Vec<StartCall> {
        lock(&self.recorded).starts.clone()
    }

    /// How the task of `token` was answered, if it was.
    pub fn answer(&self, token: &str) -> Option<TaskAnswer> {
        lock(&self.recorded).answers.get(token).cloned()
    }

    fn check_available(&self, operation: &'static str) -> Result<(), WorkflowError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(WorkflowError::Backend {
                operation,
                message: "simulated outage".to_owned(),
            });
        }
        Ok(())
    }

    fn answer_task(&self, token: &str, answer: TaskAnswer) -> Result<(), WorkflowError> {
        let mut recorded = lock(&self.recorded);
        if !recorded.waiting.remove(token) {
            return Err(WorkflowError::TaskGone(format!(
                "TaskDoesNotExist: no task waits for {token:?}"
            )));
        }
        recorded.answers.insert(token.to_owned(), answer);
        Ok(())
    }
}

impl Workflows for InMemoryWorkflows {
    async fn execution_status(
        &self,
        state_machine_arn: &str,
        name: &str,
    ) -> Result<Option<ExecutionStatus>, WorkflowError> {
        self.check_available("DescribeExecution")?;
        let recorded = lock(&self.recorded);
        let started = recorded
            .names
            .contains(&(state_machine_arn.to_owned(), name.to_owned()));
        Ok(started.then(|| {
            recorded
                .statuses
                .get(name)
                .copied()
                .unwrap_or(ExecutionStatus::Running)
        }))
    }

    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<Started, WorkflowError> {
        self.check_available("StartExecution")?;
        let mut recorded = lock(&self.recorded);
        recorded.starts.push(StartCall {
            state_machine_arn: state_machine_arn.to_owned(),
            name: name.to_owned(),
            input: input.to_owned(),
        });
        if recorded
            .names
            .insert((state_machine_arn.to_owned(), name.to_owned()))
        {
            Ok(Started::New {
                execution_arn: execution_arn_of(state_machine_arn, name),
            })
        } else {
            Ok(Started::AlreadyExists)
        }
    }

    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<(), WorkflowError> {
        self.check_available("SendTaskSuccess")?;
        self.answer_task(task_token, TaskAnswer::Success(output.to_owned()))
    }

    async fn send_task_failure(
        &self,
        task_token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        self.check_available("SendTaskFailure")?;
        self.answer_task(
            task_token,
            TaskAnswer::Failure {
                error: error.to_owned(),
                cause: cause.to_owned(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:checkout";

    #[test]
    fn execution_arn_from_the_state_machine_arn() {
        assert_eq!(
            execution_arn_of(SM, "run-1"),
            "arn:aws:states:eu-west-1:123456789012:execution:checkout:run-1"
        );
    }

    #[tokio::test]
    async fn names_are_used_once_and_tasks_answered_once() {
        let sfn = InMemoryWorkflows::new();
        let first = sfn.start_execution(SM, "n", "{}").await;
        assert!(matches!(first, Ok(Started::New { .. })));
        assert_eq!(
            sfn.start_execution(SM, "n", "{}").await,
            Ok(Started::AlreadyExists)
        );
        assert_eq!(sfn.starts().len(), 2);
        sfn.add_waiting_task("t");
        assert_eq!(sfn.send_task_success("t", "{}").await, Ok(()));
        assert!(matches!(
            sfn.send_task_failure("t", "OrderRejected", "no").await,
            Err(WorkflowError::TaskGone(_))
        ));
        assert_eq!(sfn.answer("t"), Some(TaskAnswer::Success("{}".to_owned())));
        sfn.set_unavailable(true);
        assert!(matches!(
            sfn.start_execution(SM, "m", "{}").await,
            Err(WorkflowError::Backend { .. })
        ));
    }
}

/// [`SfnWorkflows`] against a real Step Functions (LocalStack's): run with
/// `cargo test -p lambda-kit --lib -- --ignored real_sfn` while `make up` runs. It creates
/// and deletes its own state machine.
#[cfg(test)]
mod real_sfn {
    use super::*;

    #[tokio::test]
    #[ignore = "needs a Step Functions endpoint (AWS_ENDPOINT_URL, default LocalStack's)"]
    async fn names_and_tokens_on_a_real_service() {
        let conf = crate::aws::loader()
            .endpoint_url(
                std::env::var("AWS_ENDPOINT_URL")
                    .unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned()),
            )
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::for_tests())
            .load()
            .await;
        let client = Client::new(&conf);
        let created = client
            .create_state_machine()
            .name(format!("workflow-test-{}", std::process::id()))
            .role_arn("arn:aws:iam::000000000000:role/any")
            .definition(
                r#"{"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":30,"End":true}}}"#,
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(&e)));
        let arn = created.state_machine_arn().to_owned();
        let sfn = SfnWorkflows::new(client.clone());
        let first = sfn.start_execution(&arn, "run-1", r#"{"a":1}"#).await;
        let Ok(Started::New { execution_arn }) = first else {
            panic!("{first:?}")
        };
        assert_eq!(execution_arn, execution_arn_of(&arn, "run-1"));
        let other_input = sfn.start_execution(&arn, "run-1", r#"{"a":2}"#).await;
        assert_eq!(other_input, Ok(Started::AlreadyExists));
        let same_input = sfn.start_execution(&arn, "run-1", r#"{"a":1}"#).await;
        assert!(
            matches!(same_input, Ok(Started::New { .. } | Started::AlreadyExists)),
            "{same_input:?}"
        );
        let bogus = sfn.send_task_success("not-a-token", "{}").await;
        assert!(
            matches!(bogus, Err(WorkflowError::TaskGone(_))),
            "{bogus:?}"
        );
        let bogus = sfn
            .send_task_failure("not-a-token", "OrderRejected", "test")
            .await;
        assert!(
            matches!(bogus, Err(WorkflowError::TaskGone(_))),
            "{bogus:?}"
        );
        client
            .stop_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .ok();
        client
            .delete_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
            .ok();
    }
}
