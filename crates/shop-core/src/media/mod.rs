//! Product images (issue 16): ids, the bucket's key layout, limits, the header check,
//! thumbnails, the stores and the four functions (images-api, image-checker, thumbnailer,
//! catalog-images). The wiring (bucket, topic, queues, functions, IAM) is the "Product images"
//! section of `infra/template.yaml`.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`ImageId`], [`ImageKeys`] (the key layout), [`MediaLimits`] (settings), [`ImageFormat`], [`ImageVerdict`] / [`RejectReason`], the store traits [`ImageObjects`], [`ImageRecords`], [`ProductImages`] and [`ready_to_publish`] |
//! | `inspect.rs` | [`inspect`]: format and dimensions from the first [`HEADER_BYTES`], no pixel decoded (image-checker) |
//! | `thumbnail.rs` | [`thumbnails`]: 128 and 512 px JPEG thumbnails within the limits (thumbnailer) |
//! | `memory.rs` | the three stores in memory (tests and the `fakes` feature) |
//! | `samples.rs` | real PNGs and JPEGs and size-declaring PNG headers made in memory (tests, the `fakes` feature) |
//! | `s3.rs` | [`S3ImageObjects`] (the bucket), [`UploadSigner`] / [`S3UploadSigner`] (presigned upload PUTs), [`S3DownloadSigner`] (presigned thumbnail GETs, catalog-api), [`s3_client`] |
//! | `dynamo.rs` | [`DynamoImageRecords`] (the media table, `pk = IMAGE#<imageId>`; a deleted image's record a tombstone for [`TOMBSTONE_DAYS`]), [`DynamoProductImages`] (the products table's `images` map, at most [`MAX_IMAGES_PER_PRODUCT`]; the publisher's adds guarded by the record) |
//! | `tests.rs` | real PNG / JPEG / WebP made in memory, hostile headers and keys, random bytes |
//! | `events.rs` | the bucket's notifications on the media queues: [`BucketEvent`] (each created object an upload or a thumbnail), [`as_envelopes`] (S3 notification → the kit's envelope, keyed `bucket/key/eTag[/versionId]`), [`run_media_consumer`], [`NotificationError`] (permanent) / [`MediaError`] |
//! | `checker.rs` | image-checker: [`ImageChecker`] (ranged GET, [`inspect`], the verdict), [`ImageCheckerSettings`] |
//! | `thumbnailer.rs` | thumbnailer: [`Thumbnailer`] (judges uploads the checker has not reached, thumbnails, the mark), [`ThumbnailerSettings`]; peak memory measured by `bench/thumbnail` |
//! | `catalog.rs` | catalog-images: [`CatalogImages`] (woken by the thumbnails' events, publishes once when [`ready_to_publish`]), [`CatalogImagesSettings`]; [`product_image_views`] with presigned GET URLs ([`DownloadSigner`]) |
//! | `api.rs` | images-api: `POST /products/{sku}/images` (a presigned PUT), `DELETE /products/{sku}/images/{imageId}`, admins only ([`ImagesApi`], [`ImagesApiSettings`]) |
//! | `handler_tests.rs` | the four functions on the in-memory stores: real uploads, both orders of the consumers, redeliveries, hostile files, the API |
//!
//! The flow these serve: `POST /products/{sku}/images` hands out a presigned PUT for
//! [`ImageKeys::upload_key`]; S3's ObjectCreated for `uploads/` fans out to three consumers:
//! image-checker ([`inspect`] on a ranged GET, [`ImageRecords::record_verdict`]),
//! thumbnailer ([`thumbnails`] on the whole object, [`ImageObjects::put`] each under
//! [`ImageKeys::thumbnail_key`], [`ImageRecords::mark_thumbnails`]) and catalog-images
//! ([`ready_to_publish`] on the record, then [`ProductImages::add`], at most once).
//!
//! Bucket layout (every key is made and parsed here, nowhere else):
//! - `uploads/<sku>/<imageId>`: what the client uploaded, untrusted until checked;
//! - `thumbnails/<sku>/<imageId>/<size>.jpg`: for each of [`THUMBNAIL_SIZES`].

mod dynamo;
mod inspect;
#[cfg(any(test, feature = "fakes"))]
mod memory;
mod s3;
#[cfg(any(test, feature = "fakes"))]
pub mod samples;
mod thumbnail;

use std::fmt;
use std::future::Future;
use std::ops::Range;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalog::Sku;
use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_in_range};

pub use dynamo::{DynamoImageRecords, DynamoProductImages, MAX_IMAGES_PER_PRODUCT, TOMBSTONE_DAYS};
pub use inspect::{HEADER_BYTES, inspect};
#[cfg(any(test, feature = "fakes"))]
pub use memory::{InMemoryImageObjects, InMemoryImageRecords, InMemoryProductImages};
#[cfg(any(test, feature = "fakes"))]
pub use s3::FakeUploadSigner;
pub use s3::{
    PresignedUpload, S3DownloadSigner, S3ImageObjects, S3UploadSigner, UploadSigner, s3_client,
};
pub use thumbnail::{Thumbnail, ThumbnailError, thumbnails};

/// The thumbnails made of every accepted image: the longest side in pixels, never more than
/// the original's.
pub const THUMBNAIL_SIZES: [u32; 2] = [128, 512];

/// The content type of every thumbnail.
pub const THUMBNAIL_CONTENT_TYPE: &str = "image/jpeg";

/// The content types an upload may declare (the presigned PUT is signed for one of them).
/// What the bytes are is decided by [`inspect`] from their magic, never from this.
pub const ACCEPTED_CONTENT_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];

/// The id of one product image: `img_` and 32 lowercase hex digits (a UUID v4 without
/// hyphens), so it is safe in a key, a URL and a DynamoDB attribute name alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId(String);

/// A string that is not an [`ImageId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image id {0:?}: expected img_ and 32 lowercase hex digits")]
pub struct ImageIdError(pub String);

impl ImageId {
    const PREFIX: &'static str = "img_";
    const HEX_LEN: usize = 32;

    /// A fresh random id.
    pub fn generate() -> Self {
        let hex: String = lambda_kit::ids::new_uuid()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect();
        Self(format!("{}{hex}", Self::PREFIX))
    }

    /// Validates `value` as an image id.
    pub fn parse(value: &str) -> Result<Self, ImageIdError> {
        let valid = value.strip_prefix(Self::PREFIX).is_some_and(|hex| {
            hex.len() == Self::HEX_LEN
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(ImageIdError(value.to_owned()))
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ImageId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ImageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for ImageId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ImageId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^img_[0-9a-f]{32}$"
        })
    }
}

/// A key that is not the upload key of a product image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an image upload key: {0:?}")]
pub struct KeyError(pub String);

/// Where one image's objects live in the bucket: the one place keys are made and parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageKeys {
    /// The product.
    pub sku: Sku,
    /// The image.
    pub image_id: ImageId,
}

impl ImageKeys {
    /// Prefix of every upload (the bucket notification's filter).
    pub const UPLOADS_PREFIX: &'static str = "uploads/";
    /// Prefix of every thumbnail.
    pub const THUMBNAILS_PREFIX: &'static str = "thumbnails/";
    /// Longest key an S3 event may carry; anything longer is not ours (and not worth decoding).
    const MAX_KEY_LEN: usize = 1024;

    /// The keys of `image_id` of `sku`.
    pub fn new(sku: Sku, image_id: ImageId) -> Self {
        Self { sku, image_id }
    }

    /// `uploads/<sku>/<imageId>`: where the client PUTs the original.
    pub fn upload_key(&self) -> String {
        format!("{}{}/{}", Self::UPLOADS_PREFIX, self.sku, self.image_id)
    }

    /// `thumbnails/<sku>/<imageId>/`: every thumbnail of the image (deleted as one prefix).
    pub fn thumbnail_prefix(&self) -> String {
        format!("{}{}/{}/", Self::THUMBNAILS_PREFIX, self.sku, self.image_id)
    }

    /// `thumbnails/<sku>/<imageId>/<size>.jpg`.
    pub fn thumbnail_key(&self, size_px: u32) -> String {
        format!("{}{size_px}.jpg", self.thumbnail_prefix())
    }

    /// The key of each of [`THUMBNAIL_SIZES`], smallest first.
    pub fn thumbnail_keys(&self) -> Vec<(u32, String)> {
        THUMBNAIL_SIZES
            .iter()
            .map(|&size| (size, self.thumbnail_key(size)))
            .collect()
    }

    /// Parses an upload key (already decoded): exactly `uploads/<sku>/<imageId>`, each part
    /// valid, nothing before, between or after — so `..`, empty parts, extra levels, a
    /// thumbnail key or anything the grammar does not allow is an error, never a path.
    pub fn parse_upload_key(key: &str) -> Result<Self, KeyError> {
        let err = || KeyError(truncated(key));
        if key.len() > Self::MAX_KEY_LEN {
            return Err(err());
        }
        let rest = key.strip_prefix(Self::UPLOADS_PREFIX).ok_or_else(err)?;
        let (sku, image_id) = rest.split_once('/').ok_or_else(err)?;
        let sku = Sku::parse(sku).map_err(|_| err())?;
        // `ImageId::parse` admits no `/`, so extra levels fail here.
        let image_id = ImageId::parse(image_id).map_err(|_| err())?;
        Ok(Self { sku, image_id })
    }

    /// Parses the `s3.object.key` of an S3 event notification, which S3 URL-encodes (`+` for
    /// a space, `%XX` for other bytes): decoded once, strictly (a malformed escape or invalid
    /// UTF-8 is an error), then [`parse_upload_key`](Self::parse_upload_key). An encoded
    /// traversal (`%2E%2E`) decodes to `..` and fails the grammar; a double-encoded one keeps
    /// a `%` and fails too.
    pub fn from_event_key(raw: &str) -> Result<Self, KeyError> {
        if raw.len() > Self::MAX_KEY_LEN {
            return Err(KeyError(truncated(raw)));
        }
        let decoded = url_decode(raw).ok_or_else(|| KeyError(truncated(raw)))?;
        Self::parse_upload_key(&decoded)
    }
}

/// The first 100 characters of a hostile key, for an error message.
fn truncated(key: &str) -> String {
    key.chars().take(100).collect()
}

/// Decodes S3's URL encoding of an event key; `None` for a malformed escape or a result that
/// is not UTF-8.
fn url_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits, nothing else (`from_str_radix` alone would take a sign).
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// How big an upload may be, in bytes and in pixels: checked from the header before anything
/// is decoded, and again as the decoder's limits.
///
/// | variable | field | default | range |
/// | --- | --- | --- | --- |
/// | `IMAGE_MAX_BYTES` | [`max_bytes`](Self::max_bytes) | 10 MiB | 1 to 50 MiB |
/// | `IMAGE_MAX_PIXELS` | [`max_pixels`](Self::max_pixels) | 40,000,000 | 1 to 100,000,000 |
/// | `IMAGE_MAX_DIMENSION` | [`max_dimension`](Self::max_dimension) | 12,000 | 1 to 65,535 |
///
/// The upper bounds keep the thumbnailer's memory finite whatever is configured: it holds the
/// object (`max_bytes`) and the decoded image (up to 8 bytes a pixel, see
/// [`decode_budget`](Self::decode_budget)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    /// Largest object accepted (also the presigned PUT's content-length limit).
    pub max_bytes: u64,
    /// Largest width × height accepted: a small file declaring more is a decompression bomb.
    pub max_pixels: u64,
    /// Longest side accepted, in pixels.
    pub max_dimension: u32,
}

impl MediaLimits {
    /// The most `IMAGE_MAX_BYTES` may be set to (50 MiB).
    pub const MAX_BYTES_BOUND: u64 = 50 * 1024 * 1024;

    /// Bytes a decoded image may take: `max_pixels` at 8 bytes a pixel (16-bit RGBA, the
    /// widest the accepted formats decode to).
    pub fn decode_budget(&self) -> u64 {
        self.max_pixels.saturating_mul(8)
    }
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_dimension: 12_000,
        }
    }
}

impl Settings for MediaLimits {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let max_dimension = lookup_in_range(
            "IMAGE_MAX_DIMENSION",
            u64::from(defaults.max_dimension),
            1..=65_535,
            "expected whole pixels from 1 to 65535",
            lookup,
        )?;
        Ok(Self {
            max_bytes: lookup_in_range(
                "IMAGE_MAX_BYTES",
                defaults.max_bytes,
                1..=Self::MAX_BYTES_BOUND,
                "expected whole bytes from 1 to 52428800 (50 MiB)",
                lookup,
            )?,
            max_pixels: lookup_in_range(
                "IMAGE_MAX_PIXELS",
                defaults.max_pixels,
                1..=100_000_000,
                "expected whole pixels from 1 to 100000000",
                lookup,
            )?,
            // Within 1..=65_535 by the lookup's range.
            max_dimension: u32::try_from(max_dimension).unwrap_or(defaults.max_dimension),
        })
    }
}

/// An image format the shop accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
pub enum ImageFormat {
    /// PNG.
    #[serde(rename = "PNG")]
    Png,
    /// JPEG (baseline or progressive).
    #[serde(rename = "JPEG")]
    Jpeg,
    /// WebP (lossy, lossless or extended).
    #[serde(rename = "WEBP")]
    Webp,
}

impl ImageFormat {
    /// Every accepted format.
    pub const ALL: [Self; 3] = [Self::Png, Self::Jpeg, Self::Webp];

    /// Its wire name (`PNG`, `JPEG`, `WEBP`), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Webp => "WEBP",
        }
    }

    /// Its content type (one of [`ACCEPTED_CONTENT_TYPES`]).
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }

    /// The format a declared content type names, if accepted (case-insensitive, parameters
    /// ignored) — for the upload request, never for judging the bytes.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        Self::ALL
            .into_iter()
            .find(|f| f.content_type().eq_ignore_ascii_case(essence))
    }

    /// The `image` crate's name for it.
    pub(crate) fn codec(self) -> image::ImageFormat {
        match self {
            Self::Png => image::ImageFormat::Png,
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Webp => image::ImageFormat::WebP,
        }
    }
}

/// Why an upload was rejected (the record's and the API's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
pub enum RejectReason {
    /// The bytes are no image format known at all (e.g. text named `.png`).
    #[serde(rename = "NOT_AN_IMAGE")]
    NotAnImage,
    /// An image, but not PNG, JPEG or WebP (GIF, BMP, TIFF…).
    #[serde(rename = "UNSUPPORTED_FORMAT")]
    UnsupportedFormat,
    /// More bytes than [`MediaLimits::max_bytes`].
    #[serde(rename = "TOO_LARGE")]
    TooLarge,
    /// Declares more pixels than [`MediaLimits::max_pixels`] or a side longer than
    /// [`MediaLimits::max_dimension`]: a decompression bomb, or just too big to thumbnail.
    #[serde(rename = "TOO_MANY_PIXELS")]
    TooManyPixels,
    /// Starts like an accepted format but its header is broken or cut short.
    #[serde(rename = "CORRUPT")]
    Corrupt,
}

impl RejectReason {
    /// Its wire name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAnImage => "NOT_AN_IMAGE",
            Self::UnsupportedFormat => "UNSUPPORTED_FORMAT",
            Self::TooLarge => "TOO_LARGE",
            Self::TooManyPixels => "TOO_MANY_PIXELS",
            Self::Corrupt => "CORRUPT",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What image-checker decided about an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(tag = "verdict")]
pub enum ImageVerdict {
    /// An accepted format within every limit.
    #[serde(rename = "ACCEPTED")]
    Accepted {
        /// The format its bytes are in.
        format: ImageFormat,
        /// Width in pixels, as the header declares it (before any EXIF rotation).
        width: u32,
        /// Height in pixels, as the header declares it.
        height: u32,
        /// Size of the object in bytes.
        bytes: u64,
    },
    /// Not to be shown.
    #[serde(rename = "REJECTED")]
    Rejected {
        /// Why.
        reason: RejectReason,
    },
}

impl ImageVerdict {
    /// A rejection for `reason`.
    pub fn rejected(reason: RejectReason) -> Self {
        Self::Rejected { reason }
    }

    /// Whether the image was accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }
}

/// One thumbnail written to the bucket (at [`ImageKeys::thumbnail_key`] of `size_px`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StoredThumbnail {
    /// The size asked for (one of [`THUMBNAIL_SIZES`]).
    pub size_px: u32,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// What the consumers know about one image: one item per image, written by image-checker
/// (the verdict) and thumbnailer (the thumbnails), in whichever order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The product and image.
    pub keys: ImageKeys,
    /// image-checker's verdict, once it ran.
    pub verdict: Option<ImageVerdict>,
    /// The thumbnails, once all were written (never partly: marked after the last PUT).
    pub thumbnails: Option<Vec<StoredThumbnail>>,
}

impl ImageRecord {
    /// A record with nothing known yet.
    pub fn new(keys: ImageKeys) -> Self {
        Self {
            keys,
            verdict: None,
            thumbnails: None,
        }
    }
}

/// catalog-images' decision: the image is accepted and a thumbnail of each of
/// [`THUMBNAIL_SIZES`] is written. Whichever of the two writes comes last sees `true` in the
/// record it returns (the stores return the record after the write), so the image is
/// published from exactly one place however the events interleave; [`ProductImages::add`]
/// makes a repeat harmless.
pub fn ready_to_publish(record: &ImageRecord) -> bool {
    let accepted = record
        .verdict
        .as_ref()
        .is_some_and(ImageVerdict::is_accepted);
    let thumbnails_done = record.thumbnails.as_ref().is_some_and(|done| {
        THUMBNAIL_SIZES
            .iter()
            .all(|size| done.iter().any(|t| t.size_px == *size))
    });
    accepted && thumbnails_done
}

/// An image as the product shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductImage {
    /// The image.
    pub image_id: ImageId,
    /// Its format.
    pub format: ImageFormat,
    /// Width of the original in pixels.
    pub width: u32,
    /// Height of the original in pixels.
    pub height: u32,
    /// Its thumbnails.
    pub thumbnails: Vec<StoredThumbnail>,
}

impl ProductImage {
    /// The image to publish for `record`, when [`ready_to_publish`].
    pub fn from_record(record: &ImageRecord) -> Option<Self> {
        if !ready_to_publish(record) {
            return None;
        }
        match (record.verdict, &record.thumbnails) {
            (
                Some(ImageVerdict::Accepted {
                    format,
                    width,
                    height,
                    ..
                }),
                Some(thumbnails),
            ) => Some(Self {
                image_id: record.keys.image_id.clone(),
                format,
                width,
                height,
                thumbnails: thumbnails.clone(),
            }),
            _ => None,
        }
    }
}

/// What [`ProductImages::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAdded {
    /// The image is now on the product.
    Added,
    /// It was already there (a redelivery, or the other consumer won): nothing changed.
    AlreadyPresent,
    /// The product does not exist (deleted since the upload): nothing written.
    NoProduct,
    /// The image was deleted (its record is a tombstone or gone): nothing written.
    Deleted,
}

/// The bucket's objects: uploads and thumbnails. Keys are those of [`ImageKeys`].
pub trait ImageObjects: Send + Sync {
    /// The bytes of `range` of the object at `key` (fewer when the object is shorter), or
    /// `None` when there is no such object (deleted since its event). image-checker reads
    /// `0..HEADER_BYTES`.
    fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// The whole object at `key`, or `None` when there is none. At most `max_bytes + 1`
    /// bytes are read: a longer result means the object is over the limit (it may have been
    /// replaced since it was checked), without holding all of it.
    fn get(
        &self,
        key: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Writes `bytes` at `key` (replacing what is there: a redelivery writes the same).
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes every object whose key starts with `prefix`; the number deleted (0 when none:
    /// deleting twice succeeds).
    fn delete_prefix(&self, prefix: &str)
    -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// The per-image record of [`ImageRecord`]s. Both writes are upserts that return the record
/// after the write, so the writer that completes it sees [`ready_to_publish`].
///
/// A deleted image's record is a **tombstone** ([`delete`](Self::delete)), kept
/// [`TOMBSTONE_DAYS`]: a consumer's write that arrives after the DELETE (it read the upload
/// just before, or its event was redelivered) is refused instead of making the record again,
/// and [`ProductImages::add`] refuses to publish it. Without it a late write could bring a
/// deleted image back onto its product.
pub trait ImageRecords: Send + Sync {
    /// Records `verdict` for the image (replacing an earlier one: a re-upload to the same key
    /// is judged again); the record after the write, or `None` when the image was deleted
    /// (nothing written).
    fn record_verdict(
        &self,
        keys: &ImageKeys,
        verdict: &ImageVerdict,
    ) -> impl Future<Output = Result<Option<ImageRecord>, StoreError>> + Send;

    /// Records that every thumbnail is written; the record after the write, or `None` when the
    /// image was deleted (nothing written).
    fn mark_thumbnails(
        &self,
        keys: &ImageKeys,
        thumbnails: &[StoredThumbnail],
    ) -> impl Future<Output = Result<Option<ImageRecord>, StoreError>> + Send;

    /// The record of `image_id`; `None` when there is none or the image was deleted.
    fn get(
        &self,
        image_id: &ImageId,
    ) -> impl Future<Output = Result<Option<ImageRecord>, StoreError>> + Send;

    /// Marks the image deleted: its record becomes a tombstone that refuses every later write
    /// (deleting again succeeds).
    fn delete(&self, image_id: &ImageId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The images shown on products.
pub trait ProductImages: Send + Sync {
    /// Adds `image` to the product `sku` unless an image with its id is there already
    /// (a conditional write: two racing adds publish it once). A store guarded by the image
    /// records (catalog-images' is) adds only while the image's record stands, in the same
    /// atomic write: an image deleted between the consumer's read of its record and this
    /// write is [`ImageAdded::Deleted`], not brought back.
    fn add(
        &self,
        sku: &Sku,
        image: &ProductImage,
    ) -> impl Future<Output = Result<ImageAdded, StoreError>> + Send;

    /// Removes the image from the product; whether it was there.
    fn remove(
        &self,
        sku: &Sku,
        image_id: &ImageId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The product's images, in the order they were added (empty when none or no product).
    fn list(&self, sku: &Sku)
    -> impl Future<Output = Result<Vec<ProductImage>, StoreError>> + Send;
}

#[cfg(test)]
mod tests;

// The functions (issue 16, handlers half).
pub mod api;
mod catalog;
mod checker;
mod events;
#[cfg(test)]
mod handler_tests;
mod thumbnailer;

pub use api::{IMAGES_API_FUNCTION_NAME, ImagesApi, ImagesApiSettings};
#[cfg(any(test, feature = "fakes"))]
pub use catalog::FakeDownloadSigner;
pub use catalog::{
    CATALOG_IMAGES_FUNCTION_NAME, CatalogImages, CatalogImagesSettings, DownloadSigner,
    IMAGES_PUBLISHED, PresignedDownload, ProductImageView, Publication, ThumbnailView,
    product_image_views,
};
pub use checker::{
    CHECKER_FUNCTION_NAME, Checked, IMAGES_REJECTED, ImageChecker, ImageCheckerSettings,
};
pub use events::{
    BucketEvent, CreatedObject, ImageObject, MediaError, NOTIFICATION_SOURCE, NotificationError,
    OBJECT_CREATED, TEST_EVENT, UNREADABLE_NOTIFICATION, as_envelopes, envelope_of,
    run_media_consumer,
};
pub use thumbnailer::{
    THUMBNAILER_CONCURRENCY, THUMBNAILER_FUNCTION_NAME, Thumbnailed, Thumbnailer,
    ThumbnailerSettings,
};
