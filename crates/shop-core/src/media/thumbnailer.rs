//! thumbnailer: makes the JPEG thumbnails of every accepted upload and marks them on the
//! image's record.
//!
//! Per created `uploads/` object, in order:
//!
//! 1. the record: rejected → skipped (logged); no verdict yet → judged here with the
//!    checker's own function ([`inspect`](super::inspect) on the first
//!    [`HEADER_BYTES`](super::HEADER_BYTES) and the event's size) and recorded — the
//!    checker's queue may be behind and the thumbnailer does not wait for it; the same
//!    function of the same bytes gives the same verdict, whichever records it last;
//! 2. the whole object, at most `max_bytes + 1` of it (more: `TOO_LARGE`, replaced since);
//! 3. [`thumbnails`]: a [`ThumbnailError`](super::ThumbnailError) with a
//!    [`reject_reason`](super::ThumbnailError::reject_reason) is the upload's fault and
//!    recorded as its rejection (permanent, the record succeeds);
//!    [`Encode`](super::ThumbnailError::Encode) is ours and fails the record (transient,
//!    retried);
//! 4. each thumbnail PUT at [`ImageKeys::thumbnail_key`] (`image/jpeg`), then
//!    [`ImageRecords::mark_thumbnails`] after the last one.
//!
//! The verdict is on the record before any thumbnail exists, so catalog-images, woken by the
//! thumbnails' own ObjectCreated events, only ever waits for the mark (see `catalog.rs`). An
//! image deleted while it was being thumbnailed: the mark finds the record's tombstone and
//! writes nothing, so the thumbnails just made are removed again.
//!
//! Memory (measured by `make bench`, `bench/thumbnail`; `MemorySize: 768`): the object, the
//! decoded image (at most [`MediaLimits::decode_budget`]: 40 MP × 8 bytes = 320 MB) and the
//! decoder's own buffers, small but for a progressive JPEG's coefficients (2 bytes a sample,
//! not under the budget). Peak RSS at the default 40 MP limit: 131 MB for a baseline JPEG,
//! 314 MB for a 16-bit RGBA PNG, 358 MB for a progressive 4:4:4 JPEG (12 MP JPEG: 41 MB);
//! raising `IMAGE_MAX_PIXELS` raises it in proportion. Records run one at a time
//! ([`THUMBNAILER_CONCURRENCY`]): two decodes at once would double it. The decode runs on the
//! invocation's thread, so the batch deadline cannot cut it short: the function timeout must
//! cover the slowest decode of a batch (batch size 1 recommended).

use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::{EventEnvelope, EventHandler, IdempotencyConfig, ProcessError};

use super::checker::{ensure_bucket, judge, log_verdict};
use super::events::{BucketEvent, ImageObject, MediaError};
use super::{
    ImageKeys, ImageObjects, ImageRecords, ImageVerdict, MediaLimits, RejectReason,
    StoredThumbnail, THUMBNAIL_CONTENT_TYPE, thumbnails,
};

/// Name of the function.
pub const THUMBNAILER_FUNCTION_NAME: &str = "thumbnailer";

/// Records processed at once: one decode in memory at a time (module docs).
pub const THUMBNAILER_CONCURRENCY: usize = 1;

/// thumbnailer's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `MEDIA_BUCKET` | the media bucket (required): events of any other bucket fail |
/// | `MEDIA_TABLE` | the media table (image records) (required) |
/// | `IMAGE_MAX_BYTES`, `IMAGE_MAX_PIXELS`, `IMAGE_MAX_DIMENSION` | the limits ([`MediaLimits`]: optional, defaults 10 MiB, 40,000,000, 12,000); the function's memory must fit them (module docs) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbnailerSettings {
    /// The media bucket.
    pub media_bucket: String,
    /// The media table (image records).
    pub media_table: String,
    /// What an upload may be (also the decoder's limits).
    pub limits: MediaLimits,
    /// Where the consumer records the objects it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for ThumbnailerSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            media_bucket: lookup_required("MEDIA_BUCKET", lookup)?,
            media_table: lookup_required("MEDIA_TABLE", lookup)?,
            limits: MediaLimits::from_lookup(lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

/// What thumbnailing one upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thumbnailed {
    /// The thumbnails are written and marked.
    Written(Vec<StoredThumbnail>),
    /// The upload is rejected (by the checker before, or here now): no thumbnails.
    Rejected(RejectReason),
    /// The upload is gone, or the image was deleted meanwhile: nothing left behind.
    Gone,
}

/// The thumbnailer consumer.
#[derive(Debug)]
pub struct Thumbnailer<O, R> {
    objects: O,
    records: R,
    bucket: String,
    limits: MediaLimits,
}

impl<O: ImageObjects, R: ImageRecords> Thumbnailer<O, R> {
    /// A thumbnailer of the uploads of `bucket` (read and written through `objects`),
    /// recording in `records`.
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

    /// Thumbnails the upload `keys`, created with `size` bytes (module docs).
    pub async fn thumbnail(&self, keys: &ImageKeys, size: u64) -> Result<Thumbnailed, MediaError> {
        let key = keys.upload_key();
        let recorded = self
            .records
            .get(&keys.image_id)
            .await?
            .and_then(|r| r.verdict);
        match recorded {
            Some(ImageVerdict::Rejected { reason }) => {
                tracing::info!(key = %key, reason = reason.as_str(), "rejected upload: no thumbnails");
                return Ok(Thumbnailed::Rejected(reason));
            }
            Some(ImageVerdict::Accepted { .. }) => {}
            None => {
                // image-checker has not run yet: the same judgement, here.
                let Some(verdict) = judge(&self.objects, keys, size, &self.limits).await? else {
                    tracing::info!(key = %key, "upload gone (image deleted): no thumbnails");
                    return Ok(Thumbnailed::Gone);
                };
                if self.records.record_verdict(keys, &verdict).await?.is_none() {
                    tracing::info!(key = %key, "image deleted: no thumbnails");
                    return Ok(Thumbnailed::Gone);
                }
                log_verdict(&key, &verdict);
                if let ImageVerdict::Rejected { reason } = verdict {
                    return Ok(Thumbnailed::Rejected(reason));
                }
            }
        }
        let Some(bytes) = self.objects.get(&key, self.limits.max_bytes).await? else {
            tracing::info!(key = %key, "upload gone (image deleted): no thumbnails");
            return Ok(Thumbnailed::Gone);
        };
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > self.limits.max_bytes {
            // Replaced by a larger object since its size was judged.
            return self.reject(keys, RejectReason::TooLarge).await;
        }
        let made = match thumbnails(&bytes, &self.limits) {
            Ok(made) => made,
            Err(err) => {
                return match err.reject_reason() {
                    Some(reason) => {
                        tracing::warn!(key = %key, error = %err, "the decoder refused the upload");
                        self.reject(keys, reason).await
                    }
                    None => Err(MediaError::Encode(err)),
                };
            }
        };
        // The original is not needed past this point: free it before the PUTs.
        drop(bytes);
        let stored: Vec<StoredThumbnail> = made.iter().map(|t| t.stored()).collect();
        for thumbnail in made {
            self.objects
                .put(
                    &keys.thumbnail_key(thumbnail.size_px),
                    thumbnail.jpeg,
                    THUMBNAIL_CONTENT_TYPE,
                )
                .await?;
        }
        if self.records.mark_thumbnails(keys, &stored).await?.is_none() {
            // The record is a tombstone: the image was deleted during the PUTs. Undo what
            // this run just wrote (the DELETE's own prefix delete may have come before them).
            tracing::warn!(key = %key, "image deleted while thumbnailed: removing its thumbnails");
            self.objects.delete_prefix(&keys.thumbnail_prefix()).await?;
            return Ok(Thumbnailed::Gone);
        }
        tracing::info!(key = %key, thumbnails = stored.len(), "thumbnails written");
        Ok(Thumbnailed::Written(stored))
    }

    /// Records `reason` as the upload's rejection.
    async fn reject(
        &self,
        keys: &ImageKeys,
        reason: RejectReason,
    ) -> Result<Thumbnailed, MediaError> {
        let verdict = ImageVerdict::rejected(reason);
        if self.records.record_verdict(keys, &verdict).await?.is_none() {
            tracing::info!(key = %keys.upload_key(), "image deleted: rejection not recorded");
            return Ok(Thumbnailed::Gone);
        }
        log_verdict(&keys.upload_key(), &verdict);
        Ok(Thumbnailed::Rejected(reason))
    }
}

impl<O: ImageObjects, R: ImageRecords> EventHandler for Thumbnailer<O, R> {
    type Event = BucketEvent;

    async fn handle(&self, _: &EventEnvelope, event: BucketEvent) -> Result<(), ProcessError> {
        event.log_if_nothing_created(THUMBNAILER_FUNCTION_NAME);
        for object in event.objects() {
            ensure_bucket(object, &self.bucket)?;
            match &object.object {
                ImageObject::Upload(keys) => {
                    self.thumbnail(keys, object.size).await?;
                }
                ImageObject::Thumbnail { .. } => {
                    // Our own output, back through the topic: catalog-images' business.
                    tracing::debug!(key = %object.raw_key, "a thumbnail: not thumbnailed");
                }
            }
        }
        Ok(())
    }
}
