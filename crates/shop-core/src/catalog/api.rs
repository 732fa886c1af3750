//! catalog-api: read-only product listing and lookup.
//!
//! - `GET /products?limit=N&cursor=C` → `{"items": [Product], "nextCursor": "..." | null}`
//! - `GET /products/{sku}` → Product and its `images`, each with presigned GET URLs of its
//!   thumbnails ([`product_image_views`]), or 404 `PRODUCT_NOT_FOUND`
//! - `GET /partner/products?limit=N&cursor=C` → the same pages as `GET /products`, for
//!   partners: API Gateway admits a request only with an API key of the partner usage plan
//!   (`x-api-key`; rate, burst and daily quota per key), and this handler refuses one that did
//!   not come through that check ([`partner_key_id`]: 403 `FORBIDDEN`), so a deployment that
//!   lost `ApiKeyRequired` fails closed instead of serving partners' traffic unmetered.
//!
//! The product and its images are read side by side (one round trip). The bucket is private
//! and the stack has no CDN, so the URLs are presigned, locally, with this function's
//! credentials (`s3:GetObject` on `thumbnails/*`), for [`CatalogApiSettings::image_url_ttl`](super::CatalogApiSettings::image_url_ttl):
//! API Gateway's stage cache may serve the response for `CATALOG_CACHE_TTL_SECONDS`, and its
//! URLs must still work `IMAGE_URL_SECONDS` after that. On AWS in production, a CloudFront
//! distribution with origin access control in front of `thumbnails/` would give stable,
//! cacheable URLs instead (see `media/catalog.rs`).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::api_error::ApiError;
use crate::catalog::ProductStore;
use crate::catalog::{Product, Sku};
use crate::media::{DownloadSigner, ProductImageView, ProductImages, product_image_views};
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;
use lambda_kit::http::{Route, json_response, match_route, query_param, serve};

/// Name of the function (log field, crate and binary name).
pub const FUNCTION_NAME: &str = "catalog-api";

/// Page size when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: u16 = 20;
/// Largest page size.
pub const MAX_PAGE_SIZE: u16 = 100;

/// Default of `IMAGE_URL_SECONDS`: how long a thumbnail URL works after the response leaves
/// the stage cache at the latest.
pub const DEFAULT_IMAGE_URL_SECONDS: u64 = 900;

/// The resources this function serves.
pub const ROUTES: &[Route] = &[
    Route {
        resource: "/products",
        methods: &["GET"],
    },
    Route {
        resource: "/products/{sku}",
        methods: &["GET"],
    },
    Route {
        resource: PARTNER_PRODUCTS,
        methods: &["GET"],
    },
];

/// The partner catalog's resource: API key required (`x-api-key`), behind the partner usage plan.
pub const PARTNER_PRODUCTS: &str = "/partner/products";

/// The id of the API key API Gateway accepted for a partner request: its own identifier
/// (`requestContext.identity.apiKeyId`), never the key's value, so it may be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerKeyId(String);

impl PartnerKeyId {
    /// The key's id, as API Gateway and `shopctl partner-key list` name it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PartnerKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The partner API key API Gateway checked for `req`. API Gateway sets
/// `requestContext.identity.apiKeyId` only on a method that requires a key, after finding the
/// key enabled in a usage plan of the stage (LocalStack does the same). Without it the request
/// did not pass that check — the method lost `ApiKeyRequired`, or the function was invoked
/// some other way —, and the answer is 403 `FORBIDDEN`: the route fails closed.
pub fn partner_key_id(req: &Request) -> Result<PartnerKeyId, ApiError> {
    let key_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.api_key_id.as_deref(),
        _ => None,
    };
    key_id
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| PartnerKeyId(id.to_owned()))
        .ok_or_else(|| {
            ApiError::Forbidden(
                "the partner catalog is served only to a partner API key (x-api-key) checked by API Gateway".to_owned(),
            )
        })
}

/// The catalog API over a product store, the products' images and a signer of their
/// thumbnails' URLs.
#[derive(Debug)]
pub struct CatalogApi<P, I, G> {
    products: P,
    images: I,
    signer: G,
    image_url_ttl: Duration,
}

/// `GET /products` body.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductList {
    items: Vec<Product>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// `GET /products/{sku}` body: the product and its images.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductDetail {
    #[serde(flatten)]
    product: Product,
    /// Its images in the order they were added (empty when it has none), each with presigned
    /// GET URLs of its thumbnails: fetch the product again after `urlsExpireAt`.
    images: Vec<ProductImageView>,
}

impl<P: ProductStore, I: ProductImages, G: DownloadSigner> CatalogApi<P, I, G> {
    /// The API over `products` and their `images`, the thumbnails' URLs signed by `signer`
    /// for [`DEFAULT_IMAGE_URL_SECONDS`].
    pub fn new(products: P, images: I, signer: G) -> Self {
        Self {
            products,
            images,
            signer,
            image_url_ttl: Duration::from_secs(DEFAULT_IMAGE_URL_SECONDS),
        }
    }

    /// Replaces how long the thumbnails' URLs are signed for
    /// ([`CatalogApiSettings::image_url_ttl`](super::CatalogApiSettings::image_url_ttl)).
    #[must_use]
    pub fn with_image_url_ttl(mut self, ttl: Duration) -> Self {
        self.image_url_ttl = ttl;
        self
    }

    /// Handles one API Gateway request.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        serve(FUNCTION_NAME, &req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let route = match_route(ROUTES, req)?;
        match route.resource {
            "/products" => self.list(req).await,
            PARTNER_PRODUCTS => self.partner_list(req).await,
            _ => self.get(route.param("sku")).await,
        }
    }

    async fn list(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let limit = parse_limit(query_param(req, "limit"))?;
        let start_after = query_param(req, "cursor").map(decode_cursor).transpose()?;
        let page = self.products.list(limit, start_after.as_ref()).await?;
        let body = ProductList {
            items: page.items,
            next_cursor: page.last_evaluated.as_ref().map(encode_cursor),
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    /// A page of the catalog for a partner whose key API Gateway checked (and metered).
    async fn partner_list(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let partner = partner_key_id(req)?;
        tracing::info!(partner_key_id = %partner, "partner catalog page");
        self.list(req).await
    }

    async fn get(&self, sku: &str) -> Result<Response<Body>, ApiError> {
        let sku = Sku::parse(sku).map_err(|e| ApiError::InvalidSku(e.to_string()))?;
        // Side by side: one round trip. The images of a product that does not exist are none.
        let (product, images) = futures::try_join!(
            self.products.get(&sku),
            product_image_views(&self.images, &self.signer, &sku, self.image_url_ttl),
        )?;
        let product = product.ok_or_else(|| ApiError::ProductNotFound(sku.to_string()))?;
        Ok(json_response(
            StatusCode::OK,
            &ProductDetail { product, images },
        ))
    }
}

fn parse_limit(value: Option<&str>) -> Result<u16, ApiError> {
    let Some(value) = value else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    value
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
        .ok_or_else(|| {
            ApiError::InvalidLimit(format!(
                "limit must be an integer from 1 to {MAX_PAGE_SIZE}, got {value:?}"
            ))
        })
}

/// The opaque cursor handed to clients: base64url of the last SKU of the page.
pub fn encode_cursor(last: &Sku) -> String {
    URL_SAFE_NO_PAD.encode(last.as_str())
}

/// Reads a cursor back; anything this API did not issue is `INVALID_CURSOR`.
pub fn decode_cursor(cursor: &str) -> Result<Sku, ApiError> {
    let invalid =
        || ApiError::InvalidCursor(format!("cursor {cursor:?} was not issued by this API"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    Sku::parse(&text).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::InMemoryProductStore;
    use crate::media::{
        FakeDownloadSigner, ImageFormat, ImageId, InMemoryProductImages, ProductImage,
        StoredThumbnail,
    };
    use crate::test_support::{body_json, get, product};
    use lambda_kit::clock::Clock;

    type Api = CatalogApi<InMemoryProductStore, InMemoryProductImages, FakeDownloadSigner>;

    fn api(n: usize) -> Api {
        CatalogApi::new(
            InMemoryProductStore::with_products(
                (0..n).map(|i| product(&format!("SKU-{i:03}"), 100, 5)),
            ),
            InMemoryProductImages::default(),
            FakeDownloadSigner::new(Clock::manual(1_700_000_000)),
        )
    }

    #[tokio::test]
    async fn lists_all_products_page_by_page() {
        let api = api(45);
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let query: Vec<(&str, &str)> = match &cursor {
                Some(c) => vec![("limit", "20"), ("cursor", c)],
                None => vec![("limit", "20")],
            };
            let response = api.handle(get("/products", &query)).await;
            assert_eq!(response.status(), StatusCode::OK);
            let body = body_json(&response);
            let items = body["items"].as_array().cloned().unwrap_or_default();
            assert!(items.len() <= 20);
            seen.extend(
                items
                    .iter()
                    .filter_map(|p| p["sku"].as_str().map(str::to_owned)),
            );
            match body["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 45);
        seen.dedup();
        assert_eq!(seen.len(), 45, "no product twice");
    }

    #[tokio::test]
    async fn default_page_is_20_and_product_json_has_money() {
        let response = api(30).handle(get("/products", &[])).await;
        let body = body_json(&response);
        assert_eq!(body["items"].as_array().map(Vec::len), Some(20));
        assert_eq!(
            body["items"][0]["price"],
            serde_json::json!({"amount": 100, "currency": "EUR"})
        );
        assert!(body["nextCursor"].is_string());
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.as_bytes()),
            Some(&b"*"[..])
        );
    }

    #[tokio::test]
    async fn bad_limit_and_cursor_are_400() {
        let api = api(3);
        for (name, value, code) in [
            ("limit", "0", "INVALID_LIMIT"),
            ("limit", "101", "INVALID_LIMIT"),
            ("limit", "ten", "INVALID_LIMIT"),
            ("limit", "-1", "INVALID_LIMIT"),
            ("cursor", "!!!", "INVALID_CURSOR"),
            ("cursor", "bm90IGEgc2t1", "INVALID_CURSOR"),
        ] {
            let response = api.handle(get("/products", &[(name, value)])).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}={value}");
            assert_eq!(
                body_json(&response)["error"]["code"],
                code,
                "{name}={value}"
            );
        }
        let response = api.handle(get("/products", &[("limit", "100")])).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(body_json(&response)["nextCursor"].is_null());
    }

    #[tokio::test]
    async fn get_one_product() {
        let api = api(3);
        let response = api.handle(get("/products/SKU-001", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            body_json(&response),
            serde_json::json!({"sku": "SKU-001", "name": "Product SKU-001", "description": "About SKU-001",
                               "price": {"amount": 100, "currency": "EUR"}, "stock": 5, "images": []})
        );
        let response = api.handle(get("/products/NOPE", &[])).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(body_json(&response)["error"]["code"], "PRODUCT_NOT_FOUND");
        let response = api.handle(get("/products/not-valid", &[])).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_json(&response)["error"]["code"], "INVALID_SKU");
    }

    fn image(id: &str) -> ProductImage {
        ProductImage {
            image_id: ImageId::parse(id).unwrap(),
            format: ImageFormat::Png,
            width: 1200,
            height: 800,
            thumbnails: vec![
                // Stored in any order; shown smallest first.
                StoredThumbnail {
                    size_px: 512,
                    width: 512,
                    height: 341,
                },
                StoredThumbnail {
                    size_px: 128,
                    width: 128,
                    height: 85,
                },
            ],
        }
    }

    #[tokio::test]
    async fn a_product_shows_its_images_with_urls_that_outlive_the_cache() {
        let sku = Sku::parse("SKU-001").unwrap();
        let first = "img_0123456789abcdef0123456789abcdef";
        let second = "img_fedcba9876543210fedcba9876543210";
        let api = api(3).with_image_url_ttl(Duration::from_secs(900 + 60));
        api.images.add_product(&sku);
        for id in [first, second] {
            api.images.add(&sku, &image(id)).await.unwrap();
        }
        let response = api.handle(get("/products/SKU-001", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = body_json(&response);
        assert_eq!(body["sku"], "SKU-001");
        assert_eq!(body["stock"], 5);
        let images = body["images"].as_array().unwrap();
        assert_eq!(images.len(), 2, "{body}");
        assert_eq!(images[0]["imageId"], first);
        assert_eq!(images[1]["imageId"], second);
        assert_eq!(
            images[0],
            serde_json::json!({
                "imageId": first, "format": "PNG", "width": 1200, "height": 800,
                "thumbnails": [
                    {"sizePx": 128, "width": 128, "height": 85,
                     "url": format!("{}thumbnails/SKU-001/{first}/128.jpg?X-Amz-Expires=960", FakeDownloadSigner::BASE_URL)},
                    {"sizePx": 512, "width": 512, "height": 341,
                     "url": format!("{}thumbnails/SKU-001/{first}/512.jpg?X-Amz-Expires=960", FakeDownloadSigner::BASE_URL)},
                ],
                "urlsExpireAt": lambda_kit::clock::rfc3339(1_700_000_000 + 960),
            })
        );
        // Another product's images are not this one's; the list of products shows none.
        let other = body_json(&api.handle(get("/products/SKU-002", &[])).await);
        assert_eq!(other["images"], serde_json::json!([]));
        let list = body_json(&api.handle(get("/products", &[])).await);
        assert!(list["items"][1].get("images").is_none(), "{list}");
    }

    /// `GET /partner/products` as API Gateway passes it after checking the key: the key's id in
    /// the request context (the sample event of the route).
    fn partner_request(query: &[(&str, &str)]) -> Request {
        let req = crate::test_support::event("catalog-api", "list-partner-products");
        let query: std::collections::HashMap<String, String> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        req.with_query_string_parameters(query)
    }

    #[tokio::test]
    async fn a_partner_whose_key_api_gateway_checked_gets_the_catalog_pages() {
        let api = api(30);
        let req = partner_request(&[]);
        assert_eq!(
            partner_key_id(&req)
                .map(|id| id.to_string())
                .ok()
                .as_deref(),
            Some("k8x2pq7ad1")
        );
        let response = api.handle(req).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = body_json(&response);
        assert_eq!(body["items"].as_array().map(Vec::len), Some(20));
        let next = body["nextCursor"].as_str().unwrap().to_owned();
        // The same pages, limits and cursors as GET /products.
        let page = body_json(&api.handle(partner_request(&[("cursor", &next)])).await);
        assert_eq!(page["items"].as_array().map(Vec::len), Some(10));
        assert_eq!(page["items"][0]["sku"], "SKU-020");
        assert!(page["nextCursor"].is_null());
        for (name, value, code) in [
            ("limit", "0", "INVALID_LIMIT"),
            ("cursor", "!!!", "INVALID_CURSOR"),
        ] {
            let response = api.handle(partner_request(&[(name, value)])).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            assert_eq!(body_json(&response)["error"]["code"], code);
        }
    }

    #[tokio::test]
    async fn the_partner_route_fails_closed_without_a_checked_key() {
        let api = api(3);
        // No API Gateway context at all (a direct invoke, `cargo lambda watch`): refused.
        let response = api.handle(get("/partner/products", &[])).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(body_json(&response)["error"]["code"], "FORBIDDEN");
        // Through API Gateway on a method that does not require a key: no key id, refused,
        // even with an x-api-key header (the handler does not check keys; API Gateway does).
        let mut event: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../events/catalog-api/list-partner-products.json"
            ))
            .unwrap(),
        )
        .unwrap();
        for blank in [
            serde_json::Value::Null,
            serde_json::json!(""),
            serde_json::json!("  "),
        ] {
            event["requestContext"]["identity"]["apiKeyId"] = blank;
            let parsed: lambda_http::request::LambdaRequest =
                serde_json::from_value(event.clone()).unwrap();
            let req = Request::from(parsed);
            assert!(partner_key_id(&req).is_err());
            let response = api.handle(req).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let body = body_json(&response);
            assert_eq!(body["error"]["code"], "FORBIDDEN");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("x-api-key"),
                "{body}"
            );
        }
    }

    #[test]
    fn cursor_round_trip() {
        let sku = Sku::parse("SKU-9").unwrap();
        assert_eq!(decode_cursor(&encode_cursor(&sku)).ok(), Some(sku));
    }
}
