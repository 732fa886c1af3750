use std::sync::Arc;

use lambda_http::http::StatusCode;

use super::api::{AuthApi, LOGIN_FAILED_MESSAGE};
use super::authorizer::{Authorizer, TokenAuthorizerEvent, stage_wildcard};
use super::*;
use crate::auth::InMemorySessionStore;
use crate::cart::{Cart, CartStore as _, InMemoryCartStore, Quantity};
use crate::test_support::{body_json, request, sku};
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventPublisher, InMemoryPublisher, PublishError};
use lambda_kit::sync::lock;

const START: i64 = 1_800_000_000;
const TTL: i64 = 3_600;

/// Records events, and the user's cart as it was when each event was published.
#[derive(Debug, Default)]
struct Recording {
    inner: InMemoryPublisher,
    carts: Arc<InMemoryCartStore>,
    carts_at_publish: std::sync::Mutex<Vec<usize>>,
}

impl EventPublisher for Recording {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), PublishError> {
        if let Some(user_id) = event.detail_str("userId") {
            let cart = self
                .carts
                .get_cart(&user_cart_id(user_id), START)
                .await
                .unwrap_or_default();
            lock(&self.carts_at_publish).push(cart.lines.len());
        }
        self.inner.publish(event).await
    }
}

type Api = AuthApi<
    Arc<InMemorySessionStore>,
    Arc<InMemoryCartStore>,
    Arc<InMemoryUserStore>,
    Arc<Recording>,
>;

fn api() -> Api {
    let carts = Arc::new(InMemoryCartStore::default());
    let publisher = Arc::new(Recording {
        carts: Arc::clone(&carts),
        ..Recording::default()
    });
    let Ok(hasher) = PasswordHasher::new(64, 1, 1) else {
        panic!("cheap test params")
    };
    AuthApi::new(
        Arc::new(InMemorySessionStore::default()),
        carts,
        Arc::new(InMemoryUserStore::default()),
        publisher,
        TTL,
    )
    .with_hasher(hasher)
    .with_clock(Clock::manual(START))
}

fn credentials(email: &str, password: &str) -> String {
    serde_json::json!({"email": email, "password": password}).to_string()
}

async fn register(api: &Api, email: &str, password: &str) -> StatusCode {
    api.handle(request(
        "POST",
        "/auth/register",
        None,
        &credentials(email, password),
    ))
    .await
    .status()
}

async fn login(
    api: &Api,
    email: &str,
    password: &str,
    token: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let response = api
        .handle(request(
            "POST",
            "/auth/login",
            token,
            &credentials(email, password),
        ))
        .await;
    (response.status(), body_json(&response))
}

#[tokio::test]
async fn register_then_login_publishes_login_succeeded() {
    let api = api();
    assert_eq!(
        register(&api, " Ann@Example.com ", "s3cret-pass").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        register(&api, "ann@example.com", "other-pass").await,
        StatusCode::ACCEPTED,
        "a taken address gets the same answer"
    );
    assert_eq!(
        register(&api, "not-an-email", "s3cret-pass").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        register(&api, "bob@example.com", "short").await,
        StatusCode::BAD_REQUEST
    );

    let (status, body) = login(&api, "ANN@example.com", "s3cret-pass", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["role"], "customer");

    let principal = authenticate(api.sessions(), api.users(), &token, START).await;
    let Ok(principal) = principal else {
        panic!("the new session authenticates: {principal:?}")
    };
    assert_eq!(principal.user_id.as_deref(), body["userId"].as_str());

    let events = api.publisher().inner.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type, "DuplicateRegistration");
    assert_eq!(events[0].detail_str("email"), Some("ann@example.com"));
    assert_eq!(events[1].event_type, "LoginSucceeded");
    assert_eq!(events[1].source, "auth-api");
    assert_eq!(events[1].detail_str("userId"), body["userId"].as_str());
}

#[tokio::test]
async fn registering_a_taken_address_answers_exactly_as_a_new_one_and_keeps_the_account() {
    let api = api();
    let register = |email: &'static str, password: &'static str| {
        let api = &api;
        async move {
            let response = api
                .handle(request(
                    "POST",
                    "/auth/register",
                    None,
                    &credentials(email, password),
                ))
                .await;
            (response.status(), body_json(&response))
        }
    };
    let (new_status, new_body) = register("ann@example.com", "s3cret-pass").await;
    let (taken_status, taken_body) = register("ANN@example.com", "other-pass").await;
    assert_eq!(new_status, StatusCode::ACCEPTED);
    assert_eq!((new_status, &new_body), (taken_status, &taken_body));
    assert_eq!(new_body, serde_json::json!({"email": "ann@example.com"}));
    let (status, _) = login(&api, "ann@example.com", "other-pass", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the password was not replaced"
    );
    let (status, _) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_get_one_generic_answer_and_publish_login_failed() {
    let api = api();
    assert_eq!(
        register(&api, "ann@example.com", "s3cret-pass").await,
        StatusCode::ACCEPTED
    );
    let (wrong_password, a) = login(&api, "ann@example.com", "wrong-pass", None).await;
    let (unknown_user, b) = login(&api, "nobody@example.com", "s3cret-pass", None).await;
    assert_eq!(wrong_password, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_user, StatusCode::UNAUTHORIZED);
    assert_eq!(a, b, "no account enumeration");
    assert_eq!(a["error"]["message"], LOGIN_FAILED_MESSAGE);
    let events = api.publisher().inner.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.event_type == "LoginFailed"));
    assert_eq!(events[1].detail_str("email"), Some("nobody@example.com"));
    assert_eq!(events[0].detail_str("reason"), Some("INVALID_CREDENTIALS"));
}

/// Found by the API fuzz run: an address longer than DynamoDB's key limit keyed the lookup
/// and the counters, and the login answered 500.
#[tokio::test]
async fn an_address_longer_than_any_email_is_400_and_counts_nothing() {
    let api = api();
    let long = "x".repeat(3_000);
    let (status, body) = login(&api, &long, "whatever-pass", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "INVALID_REQUEST");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("254"))
    );
    assert!(
        api.publisher().inner.events().is_empty(),
        "not a login failure"
    );
    let (status, _) = login(&api, &"y".repeat(MAX_EMAIL_BYTES), "whatever-pass", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "up to the limit: an unknown address"
    );
}

#[tokio::test]
async fn login_succeeds_when_publishing_fails() {
    let api = api();
    assert_eq!(
        register(&api, "ann@example.com", "s3cret-pass").await,
        StatusCode::ACCEPTED
    );
    api.publisher().inner.set_failing(true);
    let (status, _) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(api.publisher().inner.events().is_empty());
}

#[tokio::test]
async fn the_anonymous_cart_is_merged_before_the_event_is_published() {
    let api = api();
    assert_eq!(
        register(&api, "ann@example.com", "s3cret-pass").await,
        StatusCode::ACCEPTED
    );
    let Ok(token) = crate::auth::session::SessionToken::generate() else {
        panic!("randomness")
    };
    let anonymous = crate::auth::session::Session::new_anonymous(&token, START, TTL);
    api.sessions().create_session(&anonymous).await.unwrap();
    let mut cart = Cart::default();
    let one = Quantity::new(2).unwrap();
    cart.set_line(sku("MUG"), one).unwrap();
    cart.set_line(sku("TSHIRT"), one).unwrap();
    assert!(
        api.carts()
            .put_cart(&anonymous.id, &cart, START, START + TTL)
            .await
            .is_ok()
    );

    let (status, body) = login(&api, "ann@example.com", "s3cret-pass", Some(token.expose())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user_id = body["userId"].as_str().unwrap_or_default();
    let merged = api.carts().get_cart(&user_cart_id(user_id), START).await;
    assert_eq!(merged.map(|c| c.lines.len()).ok(), Some(2));
    assert_eq!(
        *lock(&api.publisher().carts_at_publish),
        vec![2],
        "the event went out after the merge"
    );
    // The anonymous session is over.
    let old = crate::auth::session::resolve_session(api.sessions(), token.expose(), START).await;
    assert!(matches!(old, Err(crate::auth::session::AuthError::Unknown)));
}

#[tokio::test]
async fn a_locked_account_gets_403_at_login_and_on_its_sessions() {
    let api = api();
    assert_eq!(
        register(&api, "ann@example.com", "s3cret-pass").await,
        StatusCode::ACCEPTED
    );
    let (_, body) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        api.users()
            .lock("ann@example.com", START + 60, "e1", 5, START)
            .await
            .ok(),
        Some(true)
    );
    assert_eq!(
        api.users()
            .lock("ann@example.com", START + 90, "e2", 6, START)
            .await
            .ok(),
        Some(false)
    );
    let (status, body) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "ACCOUNT_LOCKED");
    let result = authenticate(api.sessions(), api.users(), &token, START).await;
    assert!(matches!(
        result,
        Err(crate::auth::session::AuthError::Locked { .. })
    ));
    // After the lock: fine again.
    let result = authenticate(api.sessions(), api.users(), &token, START + 61).await;
    result.unwrap();
}

#[tokio::test]
async fn logout_ends_the_session() {
    let api = api();
    assert_eq!(
        register(&api, "ann@example.com", "s3cret-pass").await,
        StatusCode::ACCEPTED
    );
    let (_, body) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    let response = api
        .handle(request("POST", "/auth/logout", Some(&token), ""))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = api
        .handle(request("POST", "/auth/logout", Some(&token), ""))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

fn authorizer_event(header: Option<&str>) -> TokenAuthorizerEvent {
    TokenAuthorizerEvent {
        kind: "TOKEN".to_owned(),
        authorization_token: header.map(str::to_owned),
        method_arn: "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/cart".to_owned(),
    }
}

#[tokio::test]
async fn authorizer_allows_denies_and_rejects() {
    let api = api();
    assert_eq!(
        register(&api, "ann@example.com", "s3cret-pass").await,
        StatusCode::ACCEPTED
    );
    let (_, body) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    let authorizer = Authorizer::new(Arc::clone(api.sessions()), Arc::clone(api.users()))
        .with_clock(Clock::manual(START));

    let allowed = authorizer
        .authorize(&authorizer_event(Some(&format!("Bearer {token}"))))
        .await;
    let Ok(allowed) = allowed else {
        panic!("{allowed:?}")
    };
    assert_eq!(allowed.policy_document.statement[0].effect, "Allow");
    assert_eq!(
        allowed.policy_document.statement[0].resource,
        "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*/*"
    );
    assert_eq!(allowed.context["email"], "ann@example.com");
    assert_eq!(
        allowed.principal_id,
        body["userId"].as_str().unwrap_or_default()
    );

    for bad in [
        None,
        Some("Bearer"),
        Some("Basic abc"),
        Some("Bearer not-a-token"),
        Some(&*format!("Bearer {}", "A".repeat(43))),
    ] {
        let result = authorizer.authorize(&authorizer_event(bad)).await;
        assert_eq!(
            result.err().map(|e| e.to_string()),
            Some("Unauthorized".to_owned()),
            "{bad:?}"
        );
    }

    assert!(
        api.users()
            .lock("ann@example.com", START + 60, "e1", 5, START)
            .await
            .is_ok()
    );
    let denied = authorizer
        .authorize(&authorizer_event(Some(&format!("Bearer {token}"))))
        .await;
    assert_eq!(
        denied
            .ok()
            .map(|r| r.policy_document.statement[0].effect.clone()),
        Some("Deny".to_owned())
    );
}

#[test]
fn wildcard_covers_the_stage() {
    assert_eq!(
        stage_wildcard("arn:aws:execute-api:r:1:api/v1/POST/auth/logout"),
        "arn:aws:execute-api:r:1:api/v1/*/*"
    );
    assert_eq!(stage_wildcard("weird"), "weird");
}

#[test]
fn emails_are_normalised() {
    assert_eq!(
        normalize_email("  Ann@Example.COM "),
        Some("ann@example.com".to_owned())
    );
    for bad in ["", "ann", "@x", "ann@", "a@b@c", "a b@c"] {
        assert_eq!(normalize_email(bad), None, "{bad}");
    }
}

#[tokio::test]
async fn demo_users_are_seeded_repeatably_and_can_log_in() {
    let api = api();
    let Ok(hasher) = PasswordHasher::new(64, 1, 1) else {
        panic!("cheap test params")
    };
    let first = seed_demo_users(api.users(), &hasher, START).await;
    let again = seed_demo_users(api.users(), &hasher, START + 5).await;
    let (Ok(first), Ok(again)) = (first, again) else {
        panic!("seeding works")
    };
    assert_eq!(first[0].user_id, again[0].user_id, "ids are kept");
    let (status, body) = login(&api, "admin@shop.local", "admin-password", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["role"], "admin");
    let (status, _) = login(&api, "demo@shop.local", "demo-password", None).await;
    assert_eq!(status, StatusCode::OK);
}

const AUTH_API_ENV: &[(&str, &str)] = &[
    ("PRODUCTS_TABLE", "products"),
    ("SESSIONS_TABLE", "sessions"),
    ("USERS_TABLE", "users"),
    (
        "EVENTS_TOPIC_ARN",
        "arn:aws:sns:eu-west-1:000000000000:events",
    ),
];

#[test]
fn auth_api_settings_read_every_variable_with_defaults() {
    use crate::test_support::{settings_from, with_var};
    assert_eq!(
        settings_from(AUTH_API_ENV),
        Ok(AuthApiSettings {
            sessions_table: "sessions".to_owned(),
            session_ttl_seconds: crate::config::DEFAULT_SESSION_TTL_SECONDS,
            session_max_age_seconds: crate::config::DEFAULT_SESSION_MAX_AGE_SECONDS,
            users_table: "users".to_owned(),
            topic_arn: "arn:aws:sns:eu-west-1:000000000000:events".to_owned(),
            attempt_limits: AttemptLimits {
                account_failures: 5,
                ip_failures: 20,
                window_seconds: 900,
            },
        })
    );
    let settings: Result<AuthApiSettings, _> =
        settings_from(&with_var(AUTH_API_ENV, "SESSION_TTL_SECONDS", "120"));
    assert_eq!(settings.map(|s| s.session_ttl_seconds), Ok(120));
    let vars = with_var(AUTH_API_ENV, "LOGIN_ACCOUNT_FAILURES", "3");
    let vars = with_var(&vars, "LOGIN_IP_FAILURES", "50");
    let vars = with_var(&vars, "LOGIN_WINDOW_SECONDS", "60");
    let settings: Result<AuthApiSettings, _> = settings_from(&vars);
    assert_eq!(
        settings.map(|s| s.attempt_limits),
        Ok(AttemptLimits {
            account_failures: 3,
            ip_failures: 50,
            window_seconds: 60,
        })
    );
}

#[test]
fn auth_api_settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<AuthApiSettings>(
        AUTH_API_ENV,
        &[
            "PRODUCTS_TABLE",
            "SESSIONS_TABLE",
            "USERS_TABLE",
            "EVENTS_TOPIC_ARN",
        ],
    );
    assert_invalid::<AuthApiSettings>(AUTH_API_ENV, "SESSION_TTL_SECONDS", "-60");
    for name in [
        "LOGIN_ACCOUNT_FAILURES",
        "LOGIN_IP_FAILURES",
        "LOGIN_WINDOW_SECONDS",
    ] {
        assert_invalid::<AuthApiSettings>(AUTH_API_ENV, name, "0");
    }
}

const AUTHORIZER_ENV: &[(&str, &str)] = &[("SESSIONS_TABLE", "sessions"), ("USERS_TABLE", "users")];

#[test]
fn authorizer_settings_read_every_variable() {
    use crate::test_support::settings_from;
    assert_eq!(
        settings_from(AUTHORIZER_ENV),
        Ok(AuthorizerSettings {
            sessions_table: "sessions".to_owned(),
            users_table: "users".to_owned(),
        })
    );
}

#[test]
fn authorizer_settings_name_the_missing_variable() {
    crate::test_support::assert_each_required::<AuthorizerSettings>(
        AUTHORIZER_ENV,
        &["SESSIONS_TABLE", "USERS_TABLE"],
    );
}

// ----------------------------------------------------------------- the brute-force guard

fn guarded(limits: AttemptLimits) -> (Api, Clock) {
    let clock = Clock::manual(START);
    (
        api().with_attempt_limits(limits).with_clock(clock.clone()),
        clock,
    )
}

const LIMITS: AttemptLimits = AttemptLimits {
    account_failures: 5,
    ip_failures: 100,
    window_seconds: 900,
};

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password_until_the_window_ends() {
    let (api, clock) = guarded(LIMITS);
    register(&api, "ann@example.com", "s3cret-pass").await;
    for _ in 0..5 {
        let (status, _) = login(&api, "ann@example.com", "wrong-pass", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "ACCOUNT_LOCKED");
    let events = api.publisher().inner.events();
    assert_eq!(
        events.last().and_then(|e| e.detail_str("reason")),
        Some("ACCOUNT_LOCKED")
    );

    clock.advance(901);
    let (status, body) = login(&api, "ann@example.com", "s3cret-pass", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_unknown_email_is_locked_exactly_like_a_known_one() {
    let (api, _) = guarded(LIMITS);
    register(&api, "ann@example.com", "s3cret-pass").await;
    let mut answers = Vec::new();
    for email in ["ann@example.com", "nobody@example.com"] {
        for _ in 0..5 {
            login(&api, email, "wrong-pass", None).await;
        }
        answers.push(login(&api, email, "s3cret-pass", None).await);
    }
    assert_eq!(answers[0], answers[1], "no account enumeration");
    assert_eq!(answers[0].0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_success_wipes_the_accounts_failures() {
    let (api, _) = guarded(LIMITS);
    register(&api, "ann@example.com", "s3cret-pass").await;
    for _ in 0..2 {
        for _ in 0..4 {
            let (status, _) = login(&api, "ann@example.com", "wrong-pass", None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = login(&api, "ann@example.com", "s3cret-pass", None).await;
        assert_eq!(status, StatusCode::OK, "only failures count: {body}");
    }
}

#[tokio::test]
async fn parallel_guesses_evaluate_no_more_passwords_than_the_limit() {
    let (api, _) = guarded(LIMITS);
    register(&api, "ann@example.com", "s3cret-pass").await;
    let answers = futures::future::join_all(
        (0..40).map(|_| login(&api, "ann@example.com", "wrong-pass", None)),
    )
    .await;
    let evaluated = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((evaluated, refused), (5, 35));
}

#[tokio::test]
async fn too_many_failures_from_one_address_get_429_with_retry_after() {
    let (api, clock) = guarded(AttemptLimits {
        ip_failures: 3,
        ..LIMITS
    });
    register(&api, "ann@example.com", "s3cret-pass").await;
    for i in 0..3 {
        let (status, _) = login(&api, &format!("guess{i}@example.com"), "wrong-pass", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    clock.advance(100);
    let response = api
        .handle(request(
            "POST",
            "/auth/login",
            None,
            &credentials("ann@example.com", "s3cret-pass"),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("800")
    );
    assert_eq!(body_json(&response)["error"]["code"], "TOO_MANY_ATTEMPTS");
}
