//! Every sample event under `events/` must stay valid as the Lambda runtime deserialises it:
//! API Gateway REST proxy requests must route to an existing resource of their function,
//! authorizer events must parse as TOKEN authorizer requests (and one with an authorizer
//! context must yield a principal), and SQS batches must carry event envelopes (the media
//! consumers': S3 notifications, raw or in an SNS envelope, that decode to a bucket event).

use std::path::{Path, PathBuf};

use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Request, RequestExt as _};
use lambda_kit::http::{Route, match_route};
use lambda_kit::messaging::{FromEnvelope as _, SqsEvent, parse_record};
use shop_core::auth::Principal;
use shop_core::auth::authorizer::TokenAuthorizerEvent;
use shop_core::events::ShopEvent;
use shop_core::media::{BucketEvent, as_envelopes};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn routes_of(function: &str) -> Option<&'static [Route]> {
    match function {
        "catalog-api" => Some(shop_core::catalog::ROUTES),
        "cart-api" => Some(shop_core::cart::ROUTES),
        "auth-api" => Some(shop_core::auth::api::ROUTES),
        "checkout-api" => Some(shop_core::checkout::ROUTES),
        "orders-api" => Some(shop_core::orders::api::ROUTES),
        "images-api" => Some(shop_core::media::api::ROUTES),
        _ => None,
    }
}

enum Kind {
    Api(&'static [Route]),
    Authorizer,
    Consumer,
    /// An SQS FIFO consumer: records also carry `MessageGroupId` and `SequenceNumber`.
    FifoConsumer,
    /// A consumer of the media bucket's notifications (S3 events, not envelopes).
    MediaConsumer,
    /// A Lambda step of the checkout workflow: plain JSON input.
    Step(fn(serde_json::Value) -> Result<(), String>),
}

fn pricing_input(input: serde_json::Value) -> Result<(), String> {
    let request =
        shop_core::pricing::PricingRequest::from_value(input).map_err(|e| e.to_string())?;
    match request.cart() {
        Ok(_) | Err(shop_core::pricing::PricingStepError::CartEmpty) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

fn payment_input(input: serde_json::Value) -> Result<(), String> {
    shop_core::payment::PaymentRequest::from_value(input)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn kind_of(function: &str) -> Result<Kind, String> {
    match function {
        "authorizer" => Ok(Kind::Authorizer),
        "audit-log" | "analytics" | "fraud-detector" | "notifier" => Ok(Kind::Consumer),
        "approvals" | "fulfilment" => Ok(Kind::Consumer),
        "ledger" => Ok(Kind::FifoConsumer),
        "image-checker" | "thumbnailer" | "catalog-images" => Ok(Kind::MediaConsumer),
        "pricing" => Ok(Kind::Step(pricing_input)),
        "payment" => Ok(Kind::Step(payment_input)),
        _ => routes_of(function)
            .map(Kind::Api)
            .ok_or_else(|| format!("events/{function}: no such function")),
    }
}

#[test]
fn every_event_deserialises_and_routes() -> Result<(), Box<dyn std::error::Error>> {
    let mut checked = 0;
    for function_dir in std::fs::read_dir(events_dir())? {
        let function_dir = function_dir?.path();
        if !function_dir.is_dir() {
            continue;
        }
        let function = function_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        // Not function samples: the event contract (schemas, captured envelopes), tested in
        // shop_core::events.
        if function == "schemas" || function == "envelopes" {
            continue;
        }
        let kind = kind_of(&function)?;
        for file in std::fs::read_dir(&function_dir)? {
            let file = file?.path();
            if file.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
            let routes = match kind {
                Kind::Api(routes) => routes,
                Kind::Authorizer => {
                    let event: TokenAuthorizerEvent = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    assert_eq!(event.kind, "TOKEN", "{}", file.display());
                    assert!(event.method_arn.starts_with("arn:aws:execute-api:"));
                    checked += 1;
                    continue;
                }
                Kind::Consumer | Kind::FifoConsumer => {
                    let event: SqsEvent = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    assert!(!event.records.is_empty(), "{}", file.display());
                    for record in &event.records {
                        let envelope =
                            parse_record(record).map_err(|e| format!("{}: {e}", file.display()))?;
                        // Every sample is an event the consumers know (the audit log also
                        // keeps unknown ones, but its samples are real events too).
                        ShopEvent::from_envelope(&envelope)
                            .map_err(|e| format!("{}: {e}", file.display()))?;
                        if matches!(kind, Kind::FifoConsumer) {
                            for attribute in ["MessageGroupId", "SequenceNumber"] {
                                assert!(
                                    record.attributes.contains_key(attribute),
                                    "{}: FIFO record without {attribute}",
                                    file.display()
                                );
                            }
                        }
                    }
                    checked += 1;
                    continue;
                }
                Kind::MediaConsumer => {
                    let event: SqsEvent = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    assert!(!event.records.is_empty(), "{}", file.display());
                    for record in &as_envelopes(event).records {
                        let envelope =
                            parse_record(record).map_err(|e| format!("{}: {e}", file.display()))?;
                        BucketEvent::from_envelope(&envelope)
                            .map_err(|e| format!("{}: {e}", file.display()))?;
                    }
                    checked += 1;
                    continue;
                }
                Kind::Step(check) => {
                    let input: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    check(input).map_err(|e| format!("{}: {e}", file.display()))?;
                    checked += 1;
                    continue;
                }
            };
            let event: LambdaRequest =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let req = Request::from(event);
            let Some(RequestContext::ApiGatewayV1(context)) = req.request_context_ref() else {
                return Err(format!("{}: not an API Gateway REST event", file.display()).into());
            };
            assert_eq!(context.stage.as_deref(), Some("v1"), "{}", file.display());
            let route =
                match_route(routes, &req).map_err(|e| format!("{}: {e}", file.display()))?;
            assert_eq!(
                Some(route.resource),
                context.resource_path.as_deref(),
                "{}",
                file.display()
            );
            if file.to_string_lossy().contains("with-authorizer-context") {
                assert!(
                    Principal::from_authorizer_context(&req).is_some(),
                    "{}: the authorizer context yields a principal",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 22, "expected the sample events, found {checked}");
    Ok(())
}
