//! images-api: admins add and remove a product's images.
//!
//! - `POST /products/{sku}/images` (role `admin`), body `{"contentType": "image/png" |
//!   "image/jpeg" | "image/webp", "contentLength": n}` → 201 `{"imageId", "uploadUrl",
//!   "expiresAt", "maxBytes", "requiredHeaders"}`: a presigned PUT of
//!   `uploads/<sku>/<imageId>` bound to that content type and exactly that length. A type not
//!   accepted, or a length of 0 or over `IMAGE_MAX_BYTES`, is 400 `INVALID_REQUEST` naming
//!   the field; an unknown product 404 `PRODUCT_NOT_FOUND`; a product holding
//!   [`MAX_IMAGES_PER_PRODUCT`] images 409 `TOO_MANY_IMAGES`. Nothing is written: the image
//!   exists once its bytes do (the consumers take it from there).
//! - `DELETE /products/{sku}/images/{imageId}` (role `admin`) → 204: the record becomes a
//!   tombstone first (no consumer brings the image back after this: `dynamo.rs`), then off
//!   the product (no longer shown), then the upload and the thumbnails (two prefix deletes).
//!   An image with none of these is 404 `IMAGE_NOT_FOUND` (so is a malformed id). Deleting
//!   again after a partial failure finishes the job.
//!
//! Both routes check the session themselves (never an authorizer answer API Gateway cached)
//! and the account's role *now*, from the users table, as orders-api's decisions do: a
//! demoted admin keeps their sessions but not the routes. Not admin → 403 `FORBIDDEN`.
//!
//! What a DELETE cannot undo: an upload URL handed out stays valid until it expires
//! (`UPLOAD_URL_SECONDS`), so a PUT after the DELETE stores bytes again; the tombstone keeps
//! them from being recorded or shown, and they stay under `uploads/` until deleted again.

use std::collections::BTreeMap;
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use super::{
    ACCEPTED_CONTENT_TYPES, ImageFormat, ImageId, ImageKeys, ImageObjects, ImageRecords,
    MAX_IMAGES_PER_PRODUCT, MediaLimits, ProductImages, UploadSigner,
};
use crate::api_error::ApiError;
use crate::auth::{Principal, SessionStore, UserStore, auth_error_to_api, authenticate};
use crate::catalog::{ProductStore, Sku};
use lambda_kit::clock::{Clock, rfc3339};
use lambda_kit::config::{ConfigError, Settings, lookup_in_range, lookup_required};
use lambda_kit::http::{
    Route, bearer_token, empty_response, json_response, match_route, parse_json_body, serve,
};

/// Name of the function (log field, crate and binary name).
pub const IMAGES_API_FUNCTION_NAME: &str = "images-api";

/// The resources this function serves.
pub const ROUTES: &[Route] = &[
    Route {
        resource: "/products/{sku}/images",
        methods: &["POST"],
    },
    Route {
        resource: "/products/{sku}/images/{imageId}",
        methods: &["DELETE"],
    },
];

/// Default of `UPLOAD_URL_SECONDS`.
pub const DEFAULT_UPLOAD_URL_SECONDS: u64 = 300;

/// images-api's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PRODUCTS_TABLE` | the products table: the product must exist; its images (required) |
/// | `SESSIONS_TABLE` | the sessions table (required) |
/// | `USERS_TABLE` | the users table: the caller's role now, and account locks (required) |
/// | `MEDIA_TABLE` | the media table (image records, deleted with the image) (required) |
/// | `MEDIA_BUCKET` | the media bucket (uploads are signed for it; deletes) (required) |
/// | `IMAGE_MAX_BYTES`, `IMAGE_MAX_PIXELS`, `IMAGE_MAX_DIMENSION` | the limits ([`MediaLimits`]: optional, defaults 10 MiB, 40,000,000, 12,000); the API enforces `IMAGE_MAX_BYTES` on `contentLength` |
/// | `UPLOAD_URL_SECONDS` | how long an upload URL works (optional, default 300, 60 to 3600) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagesApiSettings {
    /// The products table.
    pub products_table: String,
    /// The sessions table.
    pub sessions_table: String,
    /// The users table.
    pub users_table: String,
    /// The media table (image records).
    pub media_table: String,
    /// The media bucket.
    pub media_bucket: String,
    /// What an upload may be.
    pub limits: MediaLimits,
    /// How long an upload URL works.
    pub upload_url_seconds: u64,
}

impl Settings for ImagesApiSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            products_table: lookup_required("PRODUCTS_TABLE", lookup)?,
            sessions_table: lookup_required("SESSIONS_TABLE", lookup)?,
            users_table: lookup_required("USERS_TABLE", lookup)?,
            media_table: lookup_required("MEDIA_TABLE", lookup)?,
            media_bucket: lookup_required("MEDIA_BUCKET", lookup)?,
            limits: MediaLimits::from_lookup(lookup)?,
            upload_url_seconds: lookup_in_range(
                "UPLOAD_URL_SECONDS",
                DEFAULT_UPLOAD_URL_SECONDS,
                60..=3600,
                "expected whole seconds from 60 to 3600",
                lookup,
            )?,
        })
    }
}

/// `POST /products/{sku}/images` body. Kept as raw JSON values so that a wrong type is an
/// error naming the field, like a wrong value.
#[derive(Debug, Deserialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "NewImage")
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewImageBody {
    /// `image/png`, `image/jpeg` or `image/webp`: the upload must send exactly this
    /// `Content-Type` (what the bytes are is decided from the bytes).
    #[cfg_attr(feature = "schemas", schemars(with = "UploadContentType"))]
    content_type: serde_json::Value,
    /// The upload's size in bytes, 1 to `IMAGE_MAX_BYTES`: the upload must be exactly this long.
    #[cfg_attr(feature = "schemas", schemars(with = "UploadContentLength"))]
    content_length: serde_json::Value,
}

/// What the document says `contentType` accepts (the handler reads a raw value, so that a
/// wrong type is answered like a wrong value).
#[cfg(feature = "schemas")]
struct UploadContentType;

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for UploadContentType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UploadContentType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ACCEPTED_CONTENT_TYPES,
        })
    }
}

/// What the document says `contentLength` accepts: the deployment's `IMAGE_MAX_BYTES` (10 MiB
/// by default, `maxBytes` of the answer) is at most the setting's own bound.
#[cfg(feature = "schemas")]
struct UploadContentLength;

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for UploadContentLength {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UploadContentLength".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": MediaLimits::MAX_BYTES_BOUND,
            "description": "bytes; at most the deployment's IMAGE_MAX_BYTES (10 MiB by default), else 400 INVALID_REQUEST"
        })
    }
}

/// `POST /products/{sku}/images` answer.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadTicket {
    /// The new image.
    image_id: ImageId,
    /// Where to PUT the bytes.
    upload_url: String,
    /// When the URL stops working (RFC 3339).
    #[cfg_attr(feature = "schemas", schemars(extend("format" = "date-time")))]
    expires_at: String,
    /// The largest upload accepted, in bytes.
    max_bytes: u64,
    /// Headers the PUT must carry with exactly these values (lowercase names).
    required_headers: BTreeMap<String, String>,
}

/// The images API.
#[derive(Debug)]
pub struct ImagesApi<P, I, R, O, G, S, U> {
    products: P,
    images: I,
    records: R,
    objects: O,
    signer: G,
    sessions: S,
    users: U,
    limits: MediaLimits,
    upload_url_ttl: Duration,
    clock: Clock,
}

impl<P, I, R, O, G, S, U> ImagesApi<P, I, R, O, G, S, U>
where
    P: ProductStore,
    I: ProductImages,
    R: ImageRecords,
    O: ImageObjects,
    G: UploadSigner,
    S: SessionStore,
    U: UserStore,
{
    /// The API over the products, their images, the image records, the bucket (through
    /// `objects` and `signer`), the sessions and the users, with the default limits and URL
    /// lifetime.
    pub fn new(
        products: P,
        images: I,
        records: R,
        objects: O,
        signer: G,
        sessions: S,
        users: U,
    ) -> Self {
        Self {
            products,
            images,
            records,
            objects,
            signer,
            sessions,
            users,
            limits: MediaLimits::default(),
            upload_url_ttl: Duration::from_secs(DEFAULT_UPLOAD_URL_SECONDS),
            clock: Clock::System,
        }
    }

    /// Replaces the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: MediaLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces how long an upload URL works.
    #[must_use]
    pub fn with_upload_url_seconds(mut self, seconds: u64) -> Self {
        self.upload_url_ttl = Duration::from_secs(seconds);
        self
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The products (tests).
    pub fn products(&self) -> &P {
        &self.products
    }

    /// The products' images (tests).
    pub fn images(&self) -> &I {
        &self.images
    }

    /// The image records (tests).
    pub fn records(&self) -> &R {
        &self.records
    }

    /// The bucket's objects (tests).
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// The signer (tests).
    pub fn signer(&self) -> &G {
        &self.signer
    }

    /// The sessions (tests).
    pub fn sessions(&self) -> &S {
        &self.sessions
    }

    /// The users (tests).
    pub fn users(&self) -> &U {
        &self.users
    }

    /// Handles one API Gateway request.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        serve(IMAGES_API_FUNCTION_NAME, &req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let route = match_route(ROUTES, req)?;
        // Every route is an admin's: the session is checked here, never a cached answer.
        let principal = authenticate(
            &self.sessions,
            &self.users,
            bearer_token(req)?,
            self.clock.now(),
        )
        .await
        .map_err(auth_error_to_api)?;
        let admin = self.current_admin(&principal).await?;
        let sku =
            Sku::parse(route.param("sku")).map_err(|e| ApiError::InvalidSku(e.to_string()))?;
        match route.resource {
            "/products/{sku}/images" => self.create(&admin, &sku, req).await,
            _ => self.delete(&admin, &sku, route.param("imageId")).await,
        }
    }

    async fn create(
        &self,
        admin: &str,
        sku: &Sku,
        req: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let body: NewImageBody = parse_json_body(req)?;
        let format = content_type(&body.content_type)?;
        let length = content_length(&body.content_length, self.limits.max_bytes)?;
        if self.products.get(sku).await?.is_none() {
            return Err(ApiError::ProductNotFound(sku.to_string()));
        }
        // Best effort (a racing upload may pass): ProductImages::add refuses the one too many.
        if self.images.list(sku).await?.len() >= MAX_IMAGES_PER_PRODUCT {
            return Err(ApiError::TooManyImages {
                sku: sku.to_string(),
                max: MAX_IMAGES_PER_PRODUCT,
            });
        }
        let keys = ImageKeys::new(sku.clone(), ImageId::generate());
        let upload = self
            .signer
            .presign_put(
                &keys.upload_key(),
                format.content_type(),
                length,
                self.upload_url_ttl,
            )
            .await?;
        tracing::info!(sku = %sku, image_id = %keys.image_id, by = admin, content_type = format.content_type(), content_length = length, "upload URL issued");
        Ok(json_response(
            StatusCode::CREATED,
            &UploadTicket {
                image_id: keys.image_id,
                upload_url: upload.url,
                expires_at: rfc3339(upload.expires_at),
                max_bytes: self.limits.max_bytes,
                required_headers: upload.headers,
            },
        ))
    }

    async fn delete(&self, admin: &str, sku: &Sku, id: &str) -> Result<Response<Body>, ApiError> {
        let not_found = || ApiError::ImageNotFound(id.to_owned());
        let image_id = ImageId::parse(id).map_err(|_| not_found())?;
        let record = self.records.get(&image_id).await?;
        if let Some(record) = &record
            && record.keys.sku != *sku
        {
            // Another product's image is no image of this one.
            return Err(not_found());
        }
        let keys = ImageKeys::new(sku.clone(), image_id);
        // The tombstone first: from here on no consumer records, and catalog-images cannot
        // publish, this image again (a publish already under way is refused at its write).
        self.records.delete(&keys.image_id).await?;
        // Then off the product: no longer shown, whatever fails next.
        let was_shown = self.images.remove(sku, &keys.image_id).await?;
        let uploads = self.objects.delete_prefix(&keys.upload_key()).await?;
        let thumbnails = self.objects.delete_prefix(&keys.thumbnail_prefix()).await?;
        if record.is_none() && !was_shown && uploads == 0 && thumbnails == 0 {
            return Err(not_found());
        }
        tracing::info!(sku = %sku, image_id = %keys.image_id, by = admin, was_shown, objects = uploads + thumbnails, "image deleted");
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    /// The caller's user id if their account is an admin's *now*: the role copied into the
    /// session at login is not trusted (an admin demoted since keeps their sessions).
    async fn current_admin(&self, principal: &Principal) -> Result<String, ApiError> {
        principal
            .current_admin(&self.users)
            .await?
            .ok_or_else(not_an_admin)
    }
}

/// 403 `FORBIDDEN` for a caller who is not an admin (now).
fn not_an_admin() -> ApiError {
    ApiError::Forbidden("only admins can add or remove product images".to_owned())
}

/// The accepted format `value` names, or 400 naming the field and the accepted types.
fn content_type(value: &serde_json::Value) -> Result<ImageFormat, ApiError> {
    value
        .as_str()
        .and_then(ImageFormat::from_content_type)
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "contentType must be one of {}, got {value}",
                ACCEPTED_CONTENT_TYPES.join(", ")
            ))
        })
}

/// A whole number of bytes from 1 to `max_bytes`, or 400 naming the field and the limit.
fn content_length(value: &serde_json::Value, max_bytes: u64) -> Result<u64, ApiError> {
    value
        .as_u64()
        .filter(|n| (1..=max_bytes).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "contentLength must be a whole number of bytes from 1 to {max_bytes}, got {value}"
            ))
        })
}
