//! Every sample event under `events/` must stay a valid API Gateway REST proxy request as the
//! Lambda runtime deserialises it, and must route to an existing resource of its function.

use std::path::{Path, PathBuf};

use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Request, RequestExt as _};
use shop_core::http::{Route, match_route};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn routes_of(function: &str) -> Option<&'static [Route]> {
    match function {
        "catalog-api" => Some(shop_core::catalog::ROUTES),
        "cart-api" => Some(shop_core::cart::ROUTES),
        _ => None,
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
        let routes =
            routes_of(&function).ok_or_else(|| format!("events/{function}: no such function"))?;
        for file in std::fs::read_dir(&function_dir)? {
            let file = file?.path();
            if file.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
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
            checked += 1;
        }
    }
    assert!(checked >= 10, "expected the sample events, found {checked}");
    Ok(())
}
