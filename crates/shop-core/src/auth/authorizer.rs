//! The Lambda authorizer (REST API, TOKEN type): [`super::authenticate`] turned into an IAM
//! policy.
//!
//! - valid session → `Allow` on every method of the stage (the answer is cached by API
//!   Gateway for the token, so it must cover all private routes), with the context
//!   `sessionId`, `userId`, `email`, `role` that the handlers read;
//! - missing, malformed, unknown, expired or logged-out token → the error `Unauthorized`,
//!   which API Gateway answers with 401;
//! - locked account → `Deny`, which API Gateway answers with 403;
//! - the store failing → an error of another name (API Gateway answers 500).

use serde::{Deserialize, Serialize};

use super::{UserStore, authenticate};
use crate::auth::SessionStore;
use crate::auth::session::AuthError;
use lambda_kit::clock::Clock;

/// Name of the function (log field, crate and binary name).
pub const FUNCTION_NAME: &str = "authorizer";

/// The event API Gateway sends to a TOKEN authorizer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAuthorizerEvent {
    /// `TOKEN`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The `Authorization` header value.
    #[serde(default)]
    pub authorization_token: Option<String>,
    /// `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<method>/<path>`.
    #[serde(default)]
    pub method_arn: String,
}

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    /// The user id, or the session id for anonymous sessions.
    pub principal_id: String,
    /// Allow or Deny.
    pub policy_document: PolicyDocument,
    /// Passed to the integration as `requestContext.authorizer`.
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// An IAM policy with one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    /// `2012-10-17`.
    #[serde(rename = "Version")]
    pub version: String,
    /// The statements.
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

/// One policy statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// `execute-api:Invoke`.
    #[serde(rename = "Action")]
    pub action: String,
    /// `Allow` or `Deny`.
    #[serde(rename = "Effect")]
    pub effect: String,
    /// The stage's methods.
    #[serde(rename = "Resource")]
    pub resource: String,
}

/// A request the authorizer does not allow through with a policy.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// API Gateway maps exactly this message to 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// The check could not be made.
    #[error("authorizer failed: {0}")]
    Internal(String),
}

impl AuthorizerError {
    /// The `errorType` reported to Lambda.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized",
            Self::Internal(_) => "AuthorizerFailed",
        }
    }
}

impl From<AuthorizerError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(err: AuthorizerError) -> Self {
        Self {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// `arn:…:<api id>/<stage>/*/*`: every method and path of the stage of `method_arn`.
pub fn stage_wildcard(method_arn: &str) -> String {
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) if !api.is_empty() && !stage.is_empty() => {
            format!("{api}/{stage}/*/*")
        }
        _ => method_arn.to_owned(),
    }
}

fn policy(effect: &str, resource: String) -> PolicyDocument {
    PolicyDocument {
        version: "2012-10-17".to_owned(),
        statement: vec![Statement {
            action: "execute-api:Invoke".to_owned(),
            effect: effect.to_owned(),
            resource,
        }],
    }
}

/// The authorizer over the session and user stores.
#[derive(Debug)]
pub struct Authorizer<S, U> {
    sessions: S,
    users: U,
    clock: Clock,
}

impl<S: SessionStore, U: UserStore> Authorizer<S, U> {
    /// An authorizer over the two stores.
    pub fn new(sessions: S, users: U) -> Self {
        Self {
            sessions,
            users,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Decides on one request.
    pub async fn authorize(
        &self,
        event: &TokenAuthorizerEvent,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let header = event.authorization_token.as_deref().unwrap_or_default();
        let token = match header.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                tracing::info!(reason = "missing or not a bearer token", "unauthorized");
                return Err(AuthorizerError::Unauthorized);
            }
        };
        let resource = stage_wildcard(&event.method_arn);
        match authenticate(&self.sessions, &self.users, token, self.clock.now()).await {
            Ok(principal) => {
                let mut context = serde_json::Map::new();
                context.insert("sessionId".into(), principal.session_id.as_str().into());
                for (name, value) in [
                    ("userId", &principal.user_id),
                    ("email", &principal.email),
                    ("role", &principal.role),
                ] {
                    context.insert(name.into(), value.clone().unwrap_or_default().into());
                }
                tracing::info!(
                    user_id = principal.user_id.as_deref().unwrap_or(""),
                    "allowed"
                );
                Ok(AuthorizerResponse {
                    principal_id: principal
                        .user_id
                        .unwrap_or_else(|| principal.session_id.as_str().to_owned()),
                    policy_document: policy("Allow", resource),
                    context,
                })
            }
            Err(AuthError::Locked { until }) => {
                tracing::info!(locked_until = until, "denied: account locked");
                let mut context = serde_json::Map::new();
                context.insert("reason".into(), "ACCOUNT_LOCKED".into());
                Ok(AuthorizerResponse {
                    principal_id: "locked".to_owned(),
                    policy_document: policy("Deny", resource),
                    context,
                })
            }
            Err(AuthError::Store(err)) => {
                tracing::error!(error = %err, "authorizer could not check the session");
                Err(AuthorizerError::Internal(err.to_string()))
            }
            Err(err) => {
                tracing::info!(reason = %err, "unauthorized");
                Err(AuthorizerError::Unauthorized)
            }
        }
    }
}
