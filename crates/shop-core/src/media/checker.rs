//! image-checker: judges every upload from its first bytes and records the verdict.
//!
//! Per created `uploads/` object: a ranged GET of [`HEADER_BYTES`] (none when the event's
//! size is over the limit already), [`inspect`], [`ImageRecords::record_verdict`]. Nothing is
//! decoded, so a decompression bomb costs one small GET; a rejection is logged with the key
//! and the reason, counted ([`IMAGES_REJECTED`]) and the record succeeds (a bad upload is an
//! answer, not a failure). Thumbnail objects on the same topic are acknowledged untouched.

use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::{EventEnvelope, EventHandler, IdempotencyConfig, ProcessError};

use super::events::{BucketEvent, CreatedObject, ImageObject, MediaError, NotificationError};
use super::{
    HEADER_BYTES, ImageKeys, ImageObjects, ImageRecords, ImageVerdict, MediaLimits, inspect,
};

/// Name of the function.
pub const CHECKER_FUNCTION_NAME: &str = "image-checker";

/// Uploads rejected, by `Reason` (Count): the checker's and the thumbnailer's.
pub const IMAGES_REJECTED: &str = "ImagesRejected";

/// image-checker's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `MEDIA_BUCKET` | the media bucket (required): events of any other bucket fail |
/// | `MEDIA_TABLE` | the media table (image records) (required) |
/// | `IMAGE_MAX_BYTES`, `IMAGE_MAX_PIXELS`, `IMAGE_MAX_DIMENSION` | the limits ([`MediaLimits`]: optional, defaults 10 MiB, 40,000,000, 12,000) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCheckerSettings {
    /// The media bucket.
    pub media_bucket: String,
    /// The media table (image records).
    pub media_table: String,
    /// What an upload may be.
    pub limits: MediaLimits,
    /// Where the consumer records the objects it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for ImageCheckerSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            media_bucket: lookup_required("MEDIA_BUCKET", lookup)?,
            media_table: lookup_required("MEDIA_TABLE", lookup)?,
            limits: MediaLimits::from_lookup(lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

/// What checking one upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The verdict, now recorded.
    Recorded(ImageVerdict),
    /// The object is gone, or the image's record is a tombstone (deleted since the upload):
    /// nothing recorded, so a deleted image's record is not made again.
    Gone,
}

/// The image-checker consumer.
#[derive(Debug)]
pub struct ImageChecker<O, R> {
    objects: O,
    records: R,
    bucket: String,
    limits: MediaLimits,
}

impl<O: ImageObjects, R: ImageRecords> ImageChecker<O, R> {
    /// A checker of the uploads of `bucket` (read through `objects`), writing to `records`.
    pub fn new(objects: O, records: R, bucket: impl Into<String>, limits: MediaLimits) -> Self {
        Self {
            objects,
            records,
            bucket: bucket.into(),
            limits,
        }
    }

    /// The bucket's objects (tests).
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// The records (tests).
    pub fn records(&self) -> &R {
        &self.records
    }

    /// Judges the upload `keys`, created with `size` bytes, and records the verdict.
    pub async fn check(&self, keys: &ImageKeys, size: u64) -> Result<Checked, MediaError> {
        let key = keys.upload_key();
        let Some(verdict) = judge(&self.objects, keys, size, &self.limits).await? else {
            tracing::info!(key = %key, "upload gone (image deleted): nothing to check");
            return Ok(Checked::Gone);
        };
        if self.records.record_verdict(keys, &verdict).await?.is_none() {
            tracing::info!(key = %key, "image deleted: verdict not recorded");
            return Ok(Checked::Gone);
        }
        log_verdict(&key, &verdict);
        Ok(Checked::Recorded(verdict))
    }
}

/// [`inspect`] on the first [`HEADER_BYTES`] of the upload `keys` (no GET when `size` alone
/// decides); `None` when the object is gone. The checker's and the thumbnailer's one way of
/// judging an upload, so both reach the same verdict on the same bytes.
pub(super) async fn judge<O: ImageObjects>(
    objects: &O,
    keys: &ImageKeys,
    size: u64,
    limits: &MediaLimits,
) -> Result<Option<ImageVerdict>, MediaError> {
    if size > limits.max_bytes {
        return Ok(Some(inspect(&[], size, limits)));
    }
    let Some(header) = objects
        .get_range(&keys.upload_key(), 0..HEADER_BYTES)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(inspect(&header, size, limits)))
}

/// One line per verdict: an accepted image's dimensions, a rejection's key and reason.
pub(super) fn log_verdict(key: &str, verdict: &ImageVerdict) {
    match verdict {
        ImageVerdict::Accepted {
            format,
            width,
            height,
            bytes,
        } => tracing::info!(
            key,
            format = format.as_str(),
            width,
            height,
            bytes,
            "upload accepted"
        ),
        ImageVerdict::Rejected { reason } => {
            tracing::warn!(key, reason = reason.as_str(), "upload rejected");
            lambda_kit::metrics::count(IMAGES_REJECTED, 1, &[("Reason", reason.as_str())]);
        }
    }
}

/// An object of another bucket cannot be ours (the topic only takes the media bucket's).
pub(super) fn ensure_bucket(object: &CreatedObject, bucket: &str) -> Result<(), ProcessError> {
    if object.bucket == bucket {
        Ok(())
    } else {
        Err(NotificationError::ForeignBucket(object.bucket.clone()).into())
    }
}

impl<O: ImageObjects, R: ImageRecords> EventHandler for ImageChecker<O, R> {
    type Event = BucketEvent;

    async fn handle(&self, _: &EventEnvelope, event: BucketEvent) -> Result<(), ProcessError> {
        event.log_if_nothing_created(CHECKER_FUNCTION_NAME);
        for object in event.objects() {
            ensure_bucket(object, &self.bucket)?;
            match &object.object {
                ImageObject::Upload(keys) => {
                    self.check(keys, object.size).await?;
                }
                ImageObject::Thumbnail { .. } => {
                    // The topic carries both prefixes; thumbnails are catalog-images'.
                    tracing::debug!(key = %object.raw_key, "a thumbnail: not checked");
                }
            }
        }
        Ok(())
    }
}
