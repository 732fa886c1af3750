//! The partner catalog (`GET /partner/products`): an API key of the partner usage plan, made
//! with `shopctl partner-key`'s code, per-client throttling and a daily quota.
//!
//! What LocalStack (2026.3.0) enforces, found by experiment and by reading its gateway
//! (`ApiKeyValidationHandler`, whose own comment says rate and quota are not supported):
//!
//! | on AWS | on LocalStack | checked here |
//! | --- | --- | --- |
//! | no key, an unknown key, a key in no plan of the stage, a revoked key → 403 | the same 403 (`x-amzn-ErrorType: ForbiddenException`) | by requests |
//! | that 403's body is our gateway response, `{"error": {"code": "GATEWAY_INVALID_API_KEY", …}}` | LocalStack's own `{"message": "Forbidden"}`: it keeps none of the gateway responses SAM puts in the API's definition (`GetGatewayResponse` lists every type as its default) | the body by requests (either shape, JSON); our response through the API Gateway API where it was deployed, else as the template writes it |
//! | per-key throttle (rate, burst) → 429 `GATEWAY_THROTTLED`; daily quota → 429 `GATEWAY_QUOTA_EXCEEDED` | neither: every request with a valid key is served | the deployed plan's rate, burst, quota and stage through the API Gateway API; a canary that fails when LocalStack starts enforcing them |
//!
//! So throttling and the quota are checked by configuration only: what the plan says, that it
//! covers the stage, and that the route requires a key.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use aws_sdk_apigateway::types::{GatewayResponseType, QuotaPeriodType};
use reqwest::{Method, StatusCode};
use shop_tests::{ApiResponse, Stack, unique_id};
use shopctl::partner::{self, ApiGatewayKeys, KeyRegistry as _, PartnerName};

async fn apigateway() -> aws_sdk_apigateway::Client {
    aws_sdk_apigateway::Client::new(&lambda_kit::aws::sdk_config().await)
}

async fn partner_get(stack: &Stack, path: &str, key: Option<&str>) -> ApiResponse {
    let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
    stack
        .call_with_headers(Method::GET, path, None, None, &headers)
        .await
}

/// API Gateway's refusal of a key: 403 and a JSON body; ours on AWS, LocalStack's own
/// `{"message": "Forbidden"}` there (it applies a gateway response's status, not its body).
/// Never the function's `FORBIDDEN`: the request must not have reached it.
fn assert_key_refused(response: &ApiResponse, what: &str) {
    assert_eq!(
        response.status,
        StatusCode::FORBIDDEN,
        "{what}: body {}",
        response.body
    );
    assert!(
        response.body.is_object(),
        "{what}: a JSON body: {}",
        response.body
    );
    if response.body.get("error").is_some() {
        response.expect_error(StatusCode::FORBIDDEN, "GATEWAY_INVALID_API_KEY");
    } else {
        assert_eq!(
            response.body,
            serde_json::json!({"message": "Forbidden"}),
            "{what}: LocalStack's body of a gateway refusal"
        );
        assert_eq!(
            response
                .headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok()),
            Some("ForbiddenException"),
            "{what}: refused by API Gateway, not by the function"
        );
    }
}

#[tokio::test]
async fn a_key_made_by_shopctl_reads_the_partner_catalog_until_it_is_revoked() {
    let stack = Stack::load().await;
    let plan = stack.output("PartnerUsagePlanId").to_owned();
    let keys = ApiGatewayKeys::new(apigateway().await);
    let name = PartnerName::parse(&format!("test-{}", unique_id())).unwrap();
    let key = partner::create(&keys, &plan, &name).await.unwrap();
    assert_eq!(key.name, name.key_name());

    let listed = partner::list(&keys, &plan).await.unwrap();
    assert!(
        listed.iter().any(|k| k.id == key.id && k.name == key.name),
        "listed: {listed:?}"
    );

    let page = partner_get(&stack, "/partner/products?limit=5", Some(&key.value)).await;
    page.expect_status(StatusCode::OK);
    let items = page.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 5, "{}", page.body);
    assert!(
        items
            .iter()
            .all(|p| p["sku"].is_string() && p["price"]["amount"].is_i64())
    );
    let cursor = page.body["nextCursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let next = partner_get(
        &stack,
        &format!("/partner/products?limit=5&cursor={cursor}"),
        Some(&key.value),
    )
    .await;
    next.expect_status(StatusCode::OK);
    assert_ne!(
        next.body["items"][0]["sku"], items[0]["sku"],
        "the next page"
    );
    // The handler's own errors still come through with a key.
    partner_get(&stack, "/partner/products?limit=0", Some(&key.value))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID_LIMIT");

    let revoked = partner::revoke(&keys, &plan, &key.id).await.unwrap();
    assert_eq!(revoked.id, key.id);
    assert!(
        !partner::list(&keys, &plan)
            .await
            .unwrap()
            .iter()
            .any(|k| k.id == key.id)
    );
    let after = partner_get(&stack, "/partner/products", Some(&key.value)).await;
    assert_key_refused(&after, "a revoked key");
}

#[tokio::test]
async fn no_key_or_an_unknown_key_is_refused_with_403_and_a_json_body() {
    let stack = Stack::load().await;
    assert_key_refused(
        &partner_get(&stack, "/partner/products", None).await,
        "no key",
    );
    let unknown = format!("unknown-{}-0000000000000000000000", unique_id());
    assert_key_refused(
        &partner_get(&stack, "/partner/products", Some(&unknown)).await,
        "an unknown key",
    );
    // An existing key that is in no plan of the stage is refused too.
    let apigateway = apigateway().await;
    let keys = ApiGatewayKeys::new(apigateway.clone());
    let stray = keys
        .create_key(&format!("stray-{}", unique_id()), "tests/shared/partner.rs")
        .await
        .unwrap();
    let refused = partner_get(&stack, "/partner/products", Some(&stray.value)).await;
    keys.delete_key(&stray.id).await.unwrap();
    assert_key_refused(&refused, "a key in no usage plan");
    // The rest of the API keeps its own auth: the public catalog needs no key.
    stack
        .get("/products?limit=1", None)
        .await
        .expect_status(StatusCode::OK);

    // What AWS answers is our gateway response. LocalStack keeps none of the gateway responses
    // SAM puts in the API's definition (it lists every type as its default): then the template
    // is checked as written.
    let api_id = stack.output("ApiId");
    for (kind, status, code) in [
        (
            GatewayResponseType::InvalidApiKey,
            "403",
            "GATEWAY_INVALID_API_KEY",
        ),
        (
            GatewayResponseType::QuotaExceeded,
            "429",
            "GATEWAY_QUOTA_EXCEEDED",
        ),
    ] {
        let deployed = apigateway
            .get_gateway_response()
            .rest_api_id(api_id)
            .response_type(kind.clone())
            .send()
            .await
            .unwrap();
        let body = if deployed.default_response() {
            template_gateway_response(kind.as_str(), status)
        } else {
            assert_eq!(deployed.status_code(), Some(status), "{kind:?}");
            deployed
                .response_templates()
                .and_then(|t| t.get("application/json"))
                .expect("a JSON body template")
                .clone()
        };
        let body: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{kind:?}: {e}: {body}"));
        assert_eq!(body["error"]["code"], code, "{kind:?}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
}

/// The JSON body infra/template.yaml gives gateway response `kind` (under the API's
/// `GatewayResponses`), after checking its status there.
fn template_gateway_response(kind: &str, status: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let template = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == format!("{kind}:"))
        .unwrap_or_else(|| panic!("no {kind} gateway response in the template"));
    let section = &lines[at + 1..(at + 10).min(lines.len())];
    assert!(
        section
            .iter()
            .any(|l| l.trim() == format!("StatusCode: \"{status}\"")),
        "{kind}: status {status} in the template: {section:?}"
    );
    let body = section
        .iter()
        .find_map(|l| l.trim().strip_prefix("application/json: "))
        .unwrap_or_else(|| panic!("{kind}: a JSON body in the template: {section:?}"));
    body.trim_matches('\'').to_owned()
}

#[tokio::test]
async fn the_partner_route_alone_requires_a_key_from_the_header() {
    let stack = Stack::load().await;
    let apigateway = apigateway().await;
    let api_id = stack.output("ApiId");
    let api = apigateway
        .get_rest_api()
        .rest_api_id(api_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.api_key_source().map(|s| s.as_str()),
        Some("HEADER"),
        "keys come in x-api-key"
    );
    let resources = apigateway
        .get_resources()
        .rest_api_id(api_id)
        .limit(500)
        .embed("methods")
        .send()
        .await
        .unwrap();
    let mut keyed = Vec::new();
    for resource in resources.items() {
        for (method, detail) in resource.resource_methods().into_iter().flatten() {
            if detail.api_key_required() == Some(true) {
                keyed.push(format!("{method} {}", resource.path().unwrap_or_default()));
            }
        }
    }
    assert_eq!(keyed, ["GET /partner/products"]);
}

#[tokio::test]
async fn the_deployed_usage_plan_meters_each_partner_key_as_configured() {
    let stack = Stack::load().await;
    let plan = apigateway()
        .await
        .get_usage_plan()
        .usage_plan_id(stack.output("PartnerUsagePlanId"))
        .send()
        .await
        .unwrap();
    let throttle = plan.throttle().expect("a throttle");
    let rate = stack.tunable("PartnerRateLimit", 10);
    let burst = stack.tunable("PartnerBurstLimit", 20);
    let quota_limit = stack.tunable("PartnerDailyQuota", 10_000);
    #[allow(clippy::cast_precision_loss)]
    let expected_rate = rate as f64;
    assert!(
        (throttle.rate_limit() - expected_rate).abs() < f64::EPSILON,
        "{throttle:?}"
    );
    assert_eq!(
        i64::from(throttle.burst_limit()),
        i64::try_from(burst).unwrap()
    );
    let quota = plan.quota().expect("a quota");
    assert_eq!(
        i64::from(quota.limit()),
        i64::try_from(quota_limit).unwrap()
    );
    assert_eq!(quota.period(), Some(&QuotaPeriodType::Day));
    let stages: Vec<(&str, &str)> = plan
        .api_stages()
        .iter()
        .map(|s| {
            (
                s.api_id().unwrap_or_default(),
                s.stage().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(stages, [(stack.output("ApiId"), "v1")]);
}

/// A canary for the README's "LocalStack does not enforce usage plans": a key in a plan of its
/// own with a quota of 2 a day and 1 request per second is served 6 times in a row. On AWS the
/// third request would be 429 `GATEWAY_QUOTA_EXCEEDED`. When LocalStack starts enforcing
/// plans this fails: then test the 429s here and update the README.
#[tokio::test]
async fn localstack_does_not_enforce_a_plans_throttle_or_quota_yet() {
    let stack = Stack::load().await;
    let apigateway = apigateway().await;
    let plan = apigateway
        .create_usage_plan()
        .name(format!("canary-{}", unique_id()))
        .api_stages(
            aws_sdk_apigateway::types::ApiStage::builder()
                .api_id(stack.output("ApiId"))
                .stage("v1")
                .build(),
        )
        .throttle(
            aws_sdk_apigateway::types::ThrottleSettings::builder()
                .rate_limit(1.0)
                .burst_limit(1)
                .build(),
        )
        .quota(
            aws_sdk_apigateway::types::QuotaSettings::builder()
                .limit(2)
                .period(QuotaPeriodType::Day)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan_id = plan.id().unwrap().to_owned();
    let keys = ApiGatewayKeys::new(apigateway.clone());
    let key = partner::create(
        &keys,
        &plan_id,
        &PartnerName::parse(&format!("canary-{}", unique_id())).unwrap(),
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = partner_get(&stack, "/partner/products?limit=1", Some(&key.value)).await;
        statuses.push(response.status.as_u16());
    }
    partner::revoke(&keys, &plan_id, &key.id).await.unwrap();
    apigateway
        .delete_usage_plan()
        .usage_plan_id(&plan_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        statuses, [200; 6],
        "LocalStack now throttles or meters usage plans: test the 429s (GATEWAY_THROTTLED, \
         GATEWAY_QUOTA_EXCEEDED) here and update the README"
    );
}
