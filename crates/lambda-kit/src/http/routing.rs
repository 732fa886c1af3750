//! Routing on API Gateway REST resources.
//!
//! With the REST proxy integration, API Gateway tells the function which resource template
//! matched (`requestContext.resourcePath`, e.g. `/things/{id}/parts`) and the path parameters.
//! Those are used when present, so the stage (`/v1`) or a custom domain's base path never
//! matters. Requests without them (`cargo lambda watch`, hand-built test requests) fall back
//! to matching the path against the same templates.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt as _};

use super::RequestError;

/// A resource template and the methods it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Template as in the API definition, e.g. `/things/{id}`.
    pub resource: &'static str,
    /// Allowed methods, e.g. `&["GET"]`.
    pub methods: &'static [&'static str],
}

/// The route a request matched and its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The resource template.
    pub resource: &'static str,
    /// The request method (one of the route's methods).
    pub method: String,
    /// Path parameters by name.
    pub params: HashMap<String, String>,
}

impl RouteMatch {
    /// A path parameter (empty if absent, which the callers' validation rejects).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

/// Finds the route of `req` among `routes`: `NOT_FOUND` if none, `METHOD_NOT_ALLOWED` if
/// the resource exists but not with this method.
pub fn match_route(routes: &[Route], req: &Request) -> Result<RouteMatch, RequestError> {
    let method = req.method().as_str().to_owned();
    let (route, params) = from_request_context(routes, req)
        .or_else(|| from_path(routes, req))
        .ok_or_else(|| RequestError::NotFound {
            method: method.clone(),
            path: req.raw_http_path().to_owned(),
        })?;
    if !route.methods.contains(&method.as_str()) {
        return Err(RequestError::MethodNotAllowed {
            method,
            resource: route.resource.to_owned(),
            allowed: route.methods.join(", "),
        });
    }
    Ok(RouteMatch {
        resource: route.resource,
        method,
        params,
    })
}

fn from_request_context<'r>(
    routes: &'r [Route],
    req: &Request,
) -> Option<(&'r Route, HashMap<String, String>)> {
    let RequestContext::ApiGatewayV1(context) = req.request_context_ref()? else {
        return None;
    };
    let resource = context.resource_path.as_deref()?;
    let route = routes.iter().find(|r| r.resource == resource)?;
    let params = req
        .path_parameters_ref()
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Some((route, params))
}

fn from_path<'r>(
    routes: &'r [Route],
    req: &Request,
) -> Option<(&'r Route, HashMap<String, String>)> {
    let path = match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // Try the path as is, then without a leading stage segment.
    let candidates = [Some(&segments[..]), segments.get(1..)];
    candidates.into_iter().flatten().find_map(|segments| {
        routes.iter().find_map(|route| {
            match_template(route.resource, segments).map(|params| (route, params))
        })
    })
}

fn match_template(template: &str, segments: &[&str]) -> Option<HashMap<String, String>> {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (part, segment) in parts.iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_owned(), (*segment).to_owned());
            }
            None if part == segment => {}
            None => return None,
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use crate::http::HttpError as _;
    use lambda_http::Body;
    use lambda_http::http::Request as HttpRequest;

    use super::*;

    const ROUTES: &[Route] = &[
        Route {
            resource: "/things",
            methods: &["GET", "DELETE"],
        },
        Route {
            resource: "/things/{id}/parts",
            methods: &["PUT", "DELETE"],
        },
    ];

    fn request(method: &str, path: &str) -> Request {
        HttpRequest::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .unwrap_or_default()
    }

    #[test]
    fn matches_templates_with_or_without_stage() {
        for path in ["/things/T-1/parts", "/v1/things/T-1/parts"] {
            let found = match_route(ROUTES, &request("PUT", path));
            let Ok(found) = found else {
                panic!("{path}: {found:?}")
            };
            assert_eq!(found.resource, "/things/{id}/parts");
            assert_eq!(found.param("id"), "T-1");
        }
    }

    #[test]
    fn unknown_path_and_wrong_method() {
        let err = match_route(ROUTES, &request("GET", "/nope")).err();
        assert_eq!(err.map(|e| e.code()), Some("NOT_FOUND"));
        let err = match_route(ROUTES, &request("POST", "/things")).err();
        assert_eq!(err.map(|e| e.code()), Some("METHOD_NOT_ALLOWED"));
    }
}
