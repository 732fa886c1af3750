//! catalog-images: puts an image on its product once it is accepted and thumbnailed; and the
//! product's images as `GET /products/{sku}` shows them.
//!
//! | item | what |
//! | --- | --- |
//! | [`CatalogImages`] | the consumer: on a thumbnail's ObjectCreated, [`ready_to_publish`] on the record, then [`ProductImages::add`] |
//! | [`ProductImageView`], [`product_image_views`] | the product's images with presigned GET URLs of their thumbnails |
//! | [`DownloadSigner`] | what signs those URLs (S3's presigned GET; a fake for tests) |
//!
//! What wakes it: the ObjectCreated events of the image's **thumbnails**, not of the upload.
//! The upload's event comes before either write (verdict, thumbnails), and the verdict makes
//! no event at all, so "react to any event of the image, publish when ready" can miss the
//! last write: when the checker's verdict lands after catalog-images has seen every event,
//! nobody publishes. The thumbnailer writes the verdict (the checker's or its own) before any
//! thumbnail and marks the thumbnails after the last PUT, so on a thumbnail's event the only
//! thing that can be missing is the mark, a few milliseconds behind: that is a transient
//! failure ([`MediaError::NotReady`]) and the redelivery publishes. Both thumbnails' events
//! may find the record ready: [`ProductImages::add`] is conditional, so the image is added
//! once ([`ImageAdded::AlreadyPresent`] for the other). The upload's event is acknowledged
//! untouched (a filter policy on the subscription can keep it off this queue).
//!
//! On a thumbnail's event the record may also be: absent or a tombstone (the image was
//! deleted; the thumbnailer cleans up what it wrote after the delete) → nothing published;
//! rejected → nothing published (cannot happen for the same bytes; a replaced upload). The
//! image may also be deleted between this read of the record and the add: the store is
//! guarded by the records ([`ProductImages::add`]), so the add is refused
//! ([`ImageAdded::Deleted`]) rather than bringing the image back onto its product.
//!
//! URLs: the bucket is private and this stack has no CDN, so the view carries presigned GET
//! URLs, signed locally (no network call) with the reading function's credentials and valid
//! for a bounded time: a response cached by API Gateway must expire before its URLs do. The
//! production answer is a CloudFront distribution with origin access control (OAC) in front of
//! `thumbnails/`: stable, cacheable URLs (`https://<cdn>/thumbnails/<sku>/<imageId>/<size>.jpg`)
//! and no signing at all.

use std::future::Future;
use std::time::Duration;

use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::{EventEnvelope, EventHandler, IdempotencyConfig, ProcessError};
use serde::Serialize;

use super::checker::ensure_bucket;
use super::events::{BucketEvent, ImageObject, MediaError};
use super::{
    ImageAdded, ImageFormat, ImageId, ImageKeys, ImageRecords, ImageVerdict, ProductImage,
    ProductImages, ready_to_publish,
};
use crate::catalog::Sku;
use crate::store::StoreError;

/// Name of the function.
pub const CATALOG_IMAGES_FUNCTION_NAME: &str = "catalog-images";

/// Images put on their product (Count).
pub const IMAGES_PUBLISHED: &str = "ImagesPublished";

/// catalog-images' settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `MEDIA_BUCKET` | the media bucket (required): events of any other bucket fail |
/// | `MEDIA_TABLE` | the media table (image records) (required, read only) |
/// | `PRODUCTS_TABLE` | the table of the products' images ([`ProductImages`], required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogImagesSettings {
    /// The media bucket.
    pub media_bucket: String,
    /// The media table (image records).
    pub media_table: String,
    /// The products table.
    pub products_table: String,
    /// Where the consumer records the objects it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for CatalogImagesSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            media_bucket: lookup_required("MEDIA_BUCKET", lookup)?,
            media_table: lookup_required("MEDIA_TABLE", lookup)?,
            products_table: lookup_required("PRODUCTS_TABLE", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

/// What one thumbnail's event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// The image is on its product now, or was already.
    Published(ImageAdded),
    /// Rejected: never shown.
    Rejected,
    /// The image (record, or its verdict) was deleted: nothing to show.
    Deleted,
}

/// The catalog-images consumer.
#[derive(Debug)]
pub struct CatalogImages<R, P> {
    records: R,
    products: P,
    bucket: String,
}

impl<R: ImageRecords, P: ProductImages> CatalogImages<R, P> {
    /// Publishes the images of `bucket` recorded in `records` to `products`.
    pub fn new(records: R, products: P, bucket: impl Into<String>) -> Self {
        Self {
            records,
            products,
            bucket: bucket.into(),
        }
    }

    /// The records (tests).
    pub fn records(&self) -> &R {
        &self.records
    }

    /// The products' images (tests).
    pub fn products(&self) -> &P {
        &self.products
    }

    /// Publishes the image `keys` if it is ready (module docs).
    pub async fn publish(&self, keys: &ImageKeys) -> Result<Publication, MediaError> {
        let Some(record) = self.records.get(&keys.image_id).await? else {
            tracing::info!(image_id = %keys.image_id, "no record (image deleted): nothing to publish");
            return Ok(Publication::Deleted);
        };
        if record.keys.sku != keys.sku {
            return Err(MediaError::WrongProduct {
                image_id: keys.image_id.clone(),
                recorded: record.keys.sku,
                claimed: keys.sku.clone(),
            });
        }
        let Some(image) = ProductImage::from_record(&record) else {
            return match record.verdict {
                Some(ImageVerdict::Accepted { .. }) => {
                    Err(MediaError::NotReady(keys.image_id.clone()))
                }
                Some(ImageVerdict::Rejected { reason }) => {
                    tracing::info!(image_id = %keys.image_id, reason = reason.as_str(), "rejected: not published");
                    Ok(Publication::Rejected)
                }
                None => {
                    tracing::info!(image_id = %keys.image_id, "no verdict (image deleted): nothing to publish");
                    Ok(Publication::Deleted)
                }
            };
        };
        debug_assert!(ready_to_publish(&record));
        let added = self.products.add(&keys.sku, &image).await?;
        match added {
            ImageAdded::Added => {
                tracing::info!(sku = %keys.sku, image_id = %keys.image_id, "image published");
                lambda_kit::metrics::count(IMAGES_PUBLISHED, 1, &[]);
            }
            ImageAdded::AlreadyPresent => {
                tracing::info!(sku = %keys.sku, image_id = %keys.image_id, "image already on the product");
            }
            ImageAdded::Deleted => {
                // Deleted between the record's read and the add: the guard refused it.
                tracing::info!(sku = %keys.sku, image_id = %keys.image_id, "image deleted meanwhile: not published");
                return Ok(Publication::Deleted);
            }
            ImageAdded::NoProduct => {
                // Deleted since the upload URL was handed out: nothing to show it on.
                tracing::warn!(sku = %keys.sku, image_id = %keys.image_id, "the product does not exist: image not published");
            }
        }
        Ok(Publication::Published(added))
    }
}

impl<R: ImageRecords, P: ProductImages> EventHandler for CatalogImages<R, P> {
    type Event = BucketEvent;

    async fn handle(&self, _: &EventEnvelope, event: BucketEvent) -> Result<(), ProcessError> {
        event.log_if_nothing_created(CATALOG_IMAGES_FUNCTION_NAME);
        for object in event.objects() {
            ensure_bucket(object, &self.bucket)?;
            match &object.object {
                ImageObject::Thumbnail { keys, .. } => {
                    self.publish(keys).await?;
                }
                ImageObject::Upload(_) => {
                    // Too early to decide anything (module docs).
                    tracing::debug!(key = %object.raw_key, "an upload: waiting for its thumbnails");
                }
            }
        }
        Ok(())
    }
}

// ---- the product's images, as the API shows them ----

/// A presigned GET: a URL and until when it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedDownload {
    /// The URL (the signature is in its query).
    pub url: String,
    /// When it stops working, in epoch seconds.
    pub expires_at: i64,
}

/// Signs GET URLs of the bucket's objects (S3: SigV4 query presigning, no network call).
pub trait DownloadSigner: Send + Sync {
    /// A GET of `key`, valid for `expires_in`.
    fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> impl Future<Output = Result<PresignedDownload, StoreError>> + Send;
}

/// One thumbnail as a product shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailView {
    /// The size asked for (its longest side, unless the original is smaller).
    pub size_px: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// A presigned GET URL of the JPEG.
    pub url: String,
}

/// One image as `GET /products/{sku}` shows it (`images` of the product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductImageView {
    /// The image.
    pub image_id: ImageId,
    /// The original's format.
    pub format: ImageFormat,
    /// The original's width in pixels.
    pub width: u32,
    /// The original's height in pixels.
    pub height: u32,
    /// Its thumbnails, smallest first.
    pub thumbnails: Vec<ThumbnailView>,
    /// When the URLs stop working (RFC 3339): fetch the product again after that.
    #[cfg_attr(feature = "schemas", schemars(extend("format" = "date-time")))]
    pub urls_expire_at: String,
}

/// The images of `sku` with GET URLs of their thumbnails valid for `expires_in` (empty when
/// it has none, or there is no such product).
pub async fn product_image_views<P: ProductImages, S: DownloadSigner>(
    products: &P,
    signer: &S,
    sku: &Sku,
    expires_in: Duration,
) -> Result<Vec<ProductImageView>, StoreError> {
    let mut views = Vec::new();
    for image in products.list(sku).await? {
        let keys = ImageKeys::new(sku.clone(), image.image_id.clone());
        let mut thumbnails = Vec::with_capacity(image.thumbnails.len());
        let mut expires_at = i64::MAX;
        let mut sorted = image.thumbnails.clone();
        sorted.sort_by_key(|t| t.size_px);
        for thumbnail in sorted {
            let signed = signer
                .presign_get(&keys.thumbnail_key(thumbnail.size_px), expires_in)
                .await?;
            expires_at = expires_at.min(signed.expires_at);
            thumbnails.push(ThumbnailView {
                size_px: thumbnail.size_px,
                width: thumbnail.width,
                height: thumbnail.height,
                url: signed.url,
            });
        }
        views.push(ProductImageView {
            image_id: image.image_id,
            format: image.format,
            width: image.width,
            height: image.height,
            thumbnails,
            urls_expire_at: lambda_kit::clock::rfc3339(expires_at),
        });
    }
    Ok(views)
}

/// A [`DownloadSigner`] for unit tests: a recognisable URL, no signature.
#[cfg(any(test, feature = "fakes"))]
#[derive(Debug, Default)]
pub struct FakeDownloadSigner {
    clock: lambda_kit::clock::Clock,
}

#[cfg(any(test, feature = "fakes"))]
impl FakeDownloadSigner {
    /// The URL prefix of every fake download.
    pub const BASE_URL: &'static str = "https://images.example.invalid/";

    /// A signer whose `expires_at` counts from `clock`.
    pub fn new(clock: lambda_kit::clock::Clock) -> Self {
        Self { clock }
    }
}

#[cfg(any(test, feature = "fakes"))]
impl DownloadSigner for FakeDownloadSigner {
    async fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<PresignedDownload, StoreError> {
        let seconds = i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX);
        Ok(PresignedDownload {
            url: format!("{}{key}?X-Amz-Expires={seconds}", Self::BASE_URL),
            expires_at: self.clock.now().saturating_add(seconds),
        })
    }
}
