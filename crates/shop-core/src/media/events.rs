//! The images bucket's notifications as they arrive on the media queues, and the one Lambda
//! loop the three media consumers share.
//!
//! | item | what |
//! | --- | --- |
//! | [`envelope_of`] / [`as_envelopes`] | an SQS record body (an S3 notification, raw or in an SNS envelope) → the kit's [`EventEnvelope`] |
//! | [`BucketEvent`], [`CreatedObject`], [`ImageObject`] | what a consumer is handed: the objects created, each parsed as an upload or a thumbnail of one image |
//! | [`NotificationError`] | why a record can never be processed (permanent: it goes to the DLQ) |
//! | [`MediaError`] | why handling one object failed, permanent or transient |
//! | [`run_media_consumer`] | the Lambda loop: [`as_envelopes`], then the kit's [`BatchProcessor`] |
//!
//! The path of a notification: S3 `ObjectCreated:*` for `uploads/` and for `thumbnails/` →
//! the `media-events` SNS topic → one SQS queue per consumer (raw message delivery, like every
//! other subscription of the stack; an SNS envelope is unwrapped too, so the body may be
//! either) → the function. S3 sends `s3:TestEvent` once when the notification is configured:
//! acknowledged, nothing done.
//!
//! Why envelopes: the kit's processor (idempotency, deadline, metrics, panic containment,
//! partial batch failures) speaks [`EventEnvelope`]s, and an S3 notification is not one. Each
//! record's body is rewritten into an envelope before the batch is handed over: its `eventId`
//! is the object's idempotency key `<bucket>/<key>/<eTag>[/<versionId>]` (the same object
//! delivered twice is processed once; a re-upload with new content has a new eTag and is
//! new), its `eventType` S3's `eventName`, its `correlationId` the PUT's `x-amz-request-id`.
//! A body that is no notification becomes an envelope of type `UnreadableNotification`
//! carrying the reason, which decoding turns into a permanent failure with that reason in the
//! log.
//!
//! Permanent and transient: the kit's [`ProcessError::Malformed`] ("can never be processed")
//! and [`ProcessError::Failed`] ("a later delivery may succeed") both fail the record, which
//! is redelivered until the queue's `maxReceiveCount` moves it to the DLQ; the difference is
//! the reason logged and counted. So, per the repository's rule (a message that cannot be
//! processed goes to its DLQ with the reason logged), a key outside the layout is a
//! [`NotificationError`] → `Malformed`, never silently acknowledged; a store or S3 failure
//! is `Failed`. An upload that is not an acceptable image is not a failure at all: its
//! rejection is recorded and the record succeeds.

use std::time::SystemTime;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};

use super::{ImageId, ImageKeys, THUMBNAIL_SIZES, ThumbnailError};
use crate::catalog::Sku;
use crate::store::StoreError;
use lambda_kit::messaging::{
    BatchDeadline, BatchProcessor, EventEnvelope, EventHandler, FromEnvelope, IdempotencyStore,
    ProcessError, SqsBatchResponse,
};

/// The envelopes' `source`.
pub const NOTIFICATION_SOURCE: &str = "aws:s3";

/// `eventType` of S3's test message (`"Event": "s3:TestEvent"`).
pub const TEST_EVENT: &str = "s3:TestEvent";

/// `eventType` of a record body that is no S3 notification; its `detail.reason` says why.
pub const UNREADABLE_NOTIFICATION: &str = "UnreadableNotification";

/// The prefix of S3's `eventName`s this area acts on (`ObjectCreated:Put`, `:Post`, `:Copy`,
/// `:CompleteMultipartUpload`).
pub const OBJECT_CREATED: &str = "ObjectCreated:";

/// Longest raw key looked at (as [`ImageKeys::from_event_key`]).
const MAX_KEY_LEN: usize = 1024;

/// Why a record can never be processed: it fails with [`ProcessError::Malformed`] and, after
/// the queue's retries, waits in the DLQ with this reason in the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// The body is not an S3 notification (raw or in an SNS envelope).
    #[error("not an S3 notification: {0}")]
    Unreadable(String),
    /// An `ObjectCreated` record without a field it must have.
    #[error("S3 record for {key:?} without {field}")]
    MissingField {
        /// The record's key (raw, cut short).
        key: String,
        /// The field, e.g. `s3.object.eTag`.
        field: &'static str,
    },
    /// A created object whose key is neither an upload's nor a thumbnail's (a hostile or
    /// foreign key, or a malformed escape): it will never become valid.
    #[error("not an image upload or thumbnail key: {0:?}")]
    ForeignKey(String),
    /// An object of a bucket other than the function's.
    #[error("an object of bucket {0:?}, not of the media bucket")]
    ForeignBucket(String),
}

impl From<NotificationError> for ProcessError {
    fn from(err: NotificationError) -> Self {
        Self::Malformed(err.to_string())
    }
}

/// Why handling one object failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The bucket or a table failed (transient, unless the store calls an item malformed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encoding a thumbnail failed: our side, transient.
    #[error(transparent)]
    Encode(ThumbnailError),
    /// catalog-images saw a thumbnail of an accepted image whose thumbnails are not marked yet
    /// (the thumbnailer marks them after its last PUT): transient, the redelivery finds them.
    #[error("image {0}: thumbnails written but not marked yet")]
    NotReady(ImageId),
    /// A thumbnail key whose product is not the image's (permanent).
    #[error("image {image_id} belongs to {recorded}, not to {claimed}")]
    WrongProduct {
        /// The image.
        image_id: ImageId,
        /// The product in its record.
        recorded: Sku,
        /// The product in the key.
        claimed: Sku,
    },
}

impl From<MediaError> for ProcessError {
    fn from(err: MediaError) -> Self {
        match err {
            MediaError::Store(store) => store.into(),
            MediaError::Encode(_) | MediaError::NotReady(_) => Self::Failed(err.to_string()),
            MediaError::WrongProduct { .. } => Self::Malformed(err.to_string()),
        }
    }
}

/// What a created object is to this area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageObject {
    /// `uploads/<sku>/<imageId>`: an original, untrusted until checked.
    Upload(ImageKeys),
    /// `thumbnails/<sku>/<imageId>/<size>.jpg`: one of [`THUMBNAIL_SIZES`].
    Thumbnail {
        /// The image.
        keys: ImageKeys,
        /// The thumbnail's size.
        size_px: u32,
    },
}

impl ImageObject {
    /// Parses the raw (URL-encoded) key of an S3 event: an upload key through
    /// [`ImageKeys::from_event_key`], or exactly a key [`ImageKeys::thumbnail_key`] makes.
    pub fn from_event_key(raw: &str) -> Result<Self, NotificationError> {
        if let Ok(keys) = ImageKeys::from_event_key(raw) {
            return Ok(Self::Upload(keys));
        }
        parse_thumbnail_key(raw)
            .map(|(keys, size_px)| Self::Thumbnail { keys, size_px })
            .ok_or_else(|| NotificationError::ForeignKey(truncated(raw)))
    }

    /// The image's keys.
    pub fn keys(&self) -> &ImageKeys {
        match self {
            Self::Upload(keys) | Self::Thumbnail { keys, .. } => keys,
        }
    }
}

/// A thumbnail key: every part is checked by its own grammar and the whole must be what
/// [`ImageKeys::thumbnail_key`] makes of them. No decoding: a thumbnail key is only made of
/// characters S3 does not encode (`A-Z0-9-`, `a-z0-9_`, `/`, `.`), so the raw key of a real
/// one is its key, and anything encoded is not ours.
fn parse_thumbnail_key(raw: &str) -> Option<(ImageKeys, u32)> {
    if raw.len() > MAX_KEY_LEN {
        return None;
    }
    let rest = raw.strip_prefix(ImageKeys::THUMBNAILS_PREFIX)?;
    let mut parts = rest.split('/');
    let (sku, image_id, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let size_px: u32 = file.strip_suffix(".jpg")?.parse().ok()?;
    if !THUMBNAIL_SIZES.contains(&size_px) {
        return None;
    }
    let keys = ImageKeys::new(Sku::parse(sku).ok()?, ImageId::parse(image_id).ok()?);
    // "0128.jpg" parses as 128 too: only the canonical spelling is ours.
    (keys.thumbnail_key(size_px) == raw).then_some((keys, size_px))
}

/// The first 100 characters of a hostile key, for an error message.
fn truncated(key: &str) -> String {
    key.chars().take(100).collect()
}

/// One object of an `ObjectCreated` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    /// S3's `eventName`, e.g. `ObjectCreated:Put`.
    pub event_name: String,
    /// The bucket.
    pub bucket: String,
    /// The key as the event carries it (URL-encoded).
    pub raw_key: String,
    /// Its size in bytes, as created.
    pub size: u64,
    /// Its eTag.
    pub etag: String,
    /// Its version, in a versioned bucket.
    pub version_id: Option<String>,
    /// What it is.
    pub object: ImageObject,
}

/// What a media queue's record is, decoded: the consumers' [`EventHandler::Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketEvent {
    /// S3's `s3:TestEvent`: nothing to do.
    Test,
    /// Objects created (S3 sends one per notification).
    Created(Vec<CreatedObject>),
    /// Another S3 event (`ObjectRemoved:*`…), which no configuration here asks for: nothing to
    /// do, and it cannot become something to do.
    Other(String),
}

impl BucketEvent {
    /// The objects created (none for a test or another event).
    pub fn objects(&self) -> &[CreatedObject] {
        match self {
            Self::Created(objects) => objects,
            Self::Test | Self::Other(_) => &[],
        }
    }

    /// Logs an event that creates nothing: a test message, or another S3 event.
    pub(crate) fn log_if_nothing_created(&self, consumer: &'static str) {
        match self {
            Self::Test => {
                tracing::info!(consumer, "s3:TestEvent: the notification is configured");
            }
            Self::Other(name) => {
                tracing::warn!(consumer, event_name = %name, "not an ObjectCreated event: ignored");
            }
            Self::Created(_) => {}
        }
    }
}

impl FromEnvelope for BucketEvent {
    fn from_envelope(envelope: &EventEnvelope) -> Result<Self, String> {
        match envelope.event_type.as_str() {
            TEST_EVENT => Ok(Self::Test),
            UNREADABLE_NOTIFICATION => Err(NotificationError::Unreadable(
                envelope
                    .detail_str("reason")
                    .unwrap_or("no reason")
                    .to_owned(),
            )
            .to_string()),
            name if name.starts_with(OBJECT_CREATED) => {
                let detail: ObjectsDetail = serde_json::from_value(envelope.detail.clone())
                    .map_err(|e| {
                        NotificationError::Unreadable(format!("envelope detail: {e}")).to_string()
                    })?;
                detail
                    .objects
                    .into_iter()
                    .map(ObjectDetail::created)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Self::Created)
                    .map_err(|e| e.to_string())
            }
            other => Ok(Self::Other(other.to_owned())),
        }
    }
}

// ---- the rewrite: S3 notification → envelope ----

/// The envelope's `detail` of an `ObjectCreated` notification.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectsDetail {
    objects: Vec<ObjectDetail>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectDetail {
    event_name: String,
    bucket: String,
    key: String,
    size: Option<u64>,
    e_tag: Option<String>,
    version_id: Option<String>,
}

impl ObjectDetail {
    fn created(self) -> Result<CreatedObject, NotificationError> {
        let missing = |field| NotificationError::MissingField {
            key: truncated(&self.key),
            field,
        };
        let size = self.size.ok_or_else(|| missing("s3.object.size"))?;
        let etag = self
            .e_tag
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| missing("s3.object.eTag"))?;
        let object = ImageObject::from_event_key(&self.key)?;
        Ok(CreatedObject {
            event_name: self.event_name,
            bucket: self.bucket,
            raw_key: self.key,
            size,
            etag,
            version_id: self.version_id.filter(|v| !v.is_empty()),
            object,
        })
    }

    /// `<bucket>/<key>/<eTag>[/<versionId>]`.
    fn idempotency_key(&self) -> String {
        let mut key = format!(
            "{}/{}/{}",
            self.bucket,
            self.key,
            self.e_tag.as_deref().unwrap_or_default()
        );
        if let Some(version) = self.version_id.as_deref().filter(|v| !v.is_empty()) {
            key.push('/');
            key.push_str(version);
        }
        key
    }
}

/// An SNS envelope (raw message delivery off).
#[derive(Debug, Deserialize)]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

/// An S3 notification: `Records`, or the test message.
#[derive(Debug, Deserialize)]
struct S3Notification {
    #[serde(rename = "Records", default)]
    records: Option<Vec<S3Record>>,
    #[serde(rename = "Event", default)]
    event: Option<String>,
    #[serde(rename = "Time", default)]
    time: Option<String>,
    #[serde(rename = "Bucket", default)]
    bucket: Option<String>,
    #[serde(rename = "RequestId", default)]
    request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    event_name: String,
    #[serde(default)]
    event_time: Option<String>,
    s3: S3Entity,
    #[serde(default)]
    response_elements: Option<ResponseElements>,
}

#[derive(Debug, Deserialize)]
struct ResponseElements {
    #[serde(rename = "x-amz-request-id", default)]
    request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Bucket {
    name: String,
}

#[derive(Debug, Deserialize)]
struct S3Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "eTag", default)]
    e_tag: Option<String>,
    #[serde(rename = "versionId", default)]
    version_id: Option<String>,
}

/// The envelope of one SQS record body (`message_id` names an unreadable one). Never fails:
/// what cannot be read becomes an [`UNREADABLE_NOTIFICATION`] envelope, which the consumer
/// fails permanently with the reason.
pub fn envelope_of(body: &str, message_id: &str) -> EventEnvelope {
    read_notification(body).unwrap_or_else(|reason| {
        envelope(
            UNREADABLE_NOTIFICATION,
            format!("unreadable/{message_id}"),
            None,
            "",
            serde_json::json!({ "reason": reason }),
        )
    })
}

fn read_notification(body: &str) -> Result<EventEnvelope, String> {
    // Raw message delivery leaves the S3 JSON itself; without it, SNS wraps it.
    let inner = match serde_json::from_str::<SnsNotification>(body) {
        Ok(sns) if sns.kind == "Notification" => sns.message,
        _ => body.to_owned(),
    };
    let notification: S3Notification =
        serde_json::from_str(&inner).map_err(|e| format!("body: {e}"))?;
    if notification.event.as_deref() == Some(TEST_EVENT) {
        let bucket = notification.bucket.unwrap_or_default();
        let request_id = notification.request_id.unwrap_or_default();
        return Ok(envelope(
            TEST_EVENT,
            format!("{TEST_EVENT}/{bucket}/{request_id}"),
            notification.time,
            &request_id,
            serde_json::json!({ "bucket": bucket }),
        ));
    }
    let records = notification
        .records
        .filter(|r| !r.is_empty())
        .ok_or_else(|| "neither Records nor s3:TestEvent".to_owned())?;
    let first = records.first().ok_or_else(|| "no Records".to_owned())?;
    let event_type = first.event_name.clone();
    let time = first.event_time.clone();
    let request_id = first
        .response_elements
        .as_ref()
        .and_then(|r| r.request_id.clone())
        .unwrap_or_default();
    let objects: Vec<ObjectDetail> = records
        .into_iter()
        .map(|r| ObjectDetail {
            event_name: r.event_name,
            bucket: r.s3.bucket.name,
            key: r.s3.object.key,
            size: r.s3.object.size,
            e_tag: r.s3.object.e_tag,
            version_id: r.s3.object.version_id,
        })
        .collect();
    // One record per notification in practice; several share one id (and one outcome).
    let event_id = objects
        .iter()
        .map(ObjectDetail::idempotency_key)
        .collect::<Vec<_>>()
        .join("|");
    let detail = serde_json::to_value(ObjectsDetail { objects }).map_err(|e| e.to_string())?;
    Ok(envelope(&event_type, event_id, time, &request_id, detail))
}

fn envelope(
    event_type: &str,
    event_id: String,
    occurred_at: Option<String>,
    correlation_id: &str,
    detail: serde_json::Value,
) -> EventEnvelope {
    EventEnvelope {
        event_id,
        event_type: event_type.to_owned(),
        event_version: 1,
        occurred_at: occurred_at
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| lambda_kit::clock::rfc3339(lambda_kit::clock::Clock::System.now())),
        correlation_id: correlation_id.to_owned(),
        source: NOTIFICATION_SOURCE.to_owned(),
        detail,
    }
}

/// `event` with every record's body replaced by [`envelope_of`] it: what the kit's
/// [`BatchProcessor`] reads.
pub fn as_envelopes(mut event: SqsEvent) -> SqsEvent {
    for record in &mut event.records {
        let envelope = envelope_of(
            record.body.as_deref().unwrap_or_default(),
            record.message_id.as_deref().unwrap_or_default(),
        );
        record.body = Some(envelope.to_json());
    }
    event
}

/// Serves a media queue's batches to `processor` until the runtime stops: as the kit's
/// `run_sqs_consumer`, with the bodies made envelopes first ([`as_envelopes`]).
pub async fn run_media_consumer<H, I>(
    processor: BatchProcessor<H, I>,
) -> Result<(), lambda_runtime::Error>
where
    H: EventHandler<Event = BucketEvent>,
    I: IdempotencyStore,
{
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = BatchDeadline::for_invocation(event.context.deadline(), SystemTime::now());
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            processor
                .process_within(as_envelopes(event.payload), deadline)
                .await,
        )
    }))
    .await
}
