//! media: the S3 adapter of [`ImageObjects`] (the product-images bucket), the presigned
//! upload PUT ([`UploadSigner`]) and the presigned thumbnail GET ([`S3DownloadSigner`], a
//! [`DownloadSigner`]: catalog-api, which needs only `s3:GetObject` on `thumbnails/*`).
//!
//! The function's role needs `s3:GetObject`, `s3:PutObject`, `s3:DeleteObject` on the bucket's
//! objects and `s3:ListBucket` on the bucket: without `ListBucket`, S3 answers a GET of a
//! missing key with 403 instead of `NoSuchKey`, and [`ImageObjects::get_range`] /
//! [`ImageObjects::get`] fail instead of returning `None`. The API's role needs only
//! `s3:PutObject` on `uploads/*`: a presigned URL carries the signer's permissions.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde::Serialize;

use super::ImageObjects;
use super::catalog::{DownloadSigner, PresignedDownload};
use crate::store::{StoreError, backend};

/// DeleteObjects accepts at most 1,000 keys per call (and ListObjectsV2 returns at most as
/// many per page, so one page is one batch).
const DELETE_BATCH_MAX_KEYS: usize = 1000;

/// Keys named in the error of a partly failed delete (the count says how many more).
const DELETE_ERRORS_SHOWN: usize = 10;

/// A client for the media bucket from the shared SDK configuration
/// ([`lambda_kit::aws::sdk_config`]). With a custom endpoint (`AWS_ENDPOINT_URL`: LocalStack,
/// MinIO) requests are path-style (`http://host/bucket/key`), since such endpoints do not
/// resolve `bucket.host`; against AWS the SDK's virtual-hosted style stays.
pub fn s3_client(config: &aws_config::SdkConfig) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    Client::from_conf(conf)
}

/// The bucket's objects in S3.
#[derive(Debug, Clone)]
pub struct S3ImageObjects {
    client: Client,
    bucket: String,
}

impl S3ImageObjects {
    /// The objects of `bucket`, using `client` (build it once per process, e.g. with
    /// [`s3_client`]).
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// GetObject of the inclusive byte range `first..=last`; `None` for a missing key, an
    /// empty output for a range past the end of the object.
    async fn get_object(
        &self,
        key: &str,
        first: u64,
        last: u64,
        operation: &'static str,
    ) -> Result<Option<GetObjectOutput>, StoreError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={first}-{last}"))
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(output)),
            Err(err) if is_no_such_key(&err) => Ok(None),
            // S3 answers 416 for a range that starts at or past the end (every range of an
            // empty object): the object is there, with nothing in that range.
            Err(err) if is_invalid_range(&err) => Ok(Some(GetObjectOutput::builder().build())),
            Err(err) => Err(backend(operation, &err)),
        }
    }
}

fn is_no_such_key<R>(err: &SdkError<GetObjectError, R>) -> bool {
    matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_)))
}

fn is_invalid_range<R>(err: &SdkError<GetObjectError, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code) == Some("InvalidRange")
}

/// Reads `body` until its end or until more than `limit` bytes arrived, whichever is first;
/// returns at most `limit + 1` bytes. Chunk by chunk, so an object longer than asked for
/// (S3 ignoring the range, a replaced object) is never held whole.
async fn read_at_most(
    mut body: ByteStream,
    limit: u64,
    size_hint: Option<i64>,
    operation: &'static str,
) -> Result<Vec<u8>, StoreError> {
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let hint = size_hint.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let mut out = Vec::with_capacity(hint.min(cap));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| backend(operation, &e))?;
        let room = cap - out.len();
        if chunk.len() >= room {
            out.extend_from_slice(chunk.get(..room).unwrap_or_default());
            // Dropping the stream here closes the connection: the rest is never read.
            break;
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

impl ImageObjects for S3ImageObjects {
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<Vec<u8>>, StoreError> {
        const OPERATION: &str = "GetObject media range";
        // HTTP has no empty range: an empty one still asks for one byte, to learn whether the
        // object exists, and keeps none of it.
        let len = range.end.saturating_sub(range.start);
        let last = range.start.saturating_add(len.max(1) - 1);
        let Some(output) = self.get_object(key, range.start, last, OPERATION).await? else {
            return Ok(None);
        };
        let hint = output.content_length();
        let bytes = read_at_most(output.body, len.saturating_sub(1), hint, OPERATION).await?;
        Ok(Some(if len == 0 { Vec::new() } else { bytes }))
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, StoreError> {
        const OPERATION: &str = "GetObject media";
        // The range makes S3 send at most max_bytes + 1 bytes; read_at_most holds to that
        // whatever is sent.
        let Some(output) = self.get_object(key, 0, max_bytes, OPERATION).await? else {
            return Ok(None);
        };
        let hint = output.content_length();
        read_at_most(output.body, max_bytes, hint, OPERATION)
            .await
            .map(Some)
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| backend("PutObject media", &e))?;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        // An empty prefix is every object of the bucket: never what a caller means.
        if prefix.is_empty() {
            return Err(StoreError::Backend {
                operation: "DeleteObjects media",
                message: "refusing to delete with an empty prefix (the whole bucket)".to_owned(),
            });
        }
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(i32::try_from(DELETE_BATCH_MAX_KEYS).unwrap_or(i32::MAX))
            .into_paginator()
            .send();
        let mut deleted = 0;
        let mut failed = Vec::new();
        // Deleting a page before asking for the next is safe: the continuation token is a
        // position in key order, not a snapshot.
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| backend("ListObjectsV2 media", &e))?;
            let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
            for batch in keys.chunks(DELETE_BATCH_MAX_KEYS) {
                let (ok, errors) = self.delete_batch(batch).await?;
                deleted += ok;
                failed.extend(errors);
            }
        }
        if failed.is_empty() {
            Ok(deleted)
        } else {
            Err(delete_errors(deleted, &failed))
        }
    }
}

impl S3ImageObjects {
    /// One DeleteObjects (quiet: only failures come back); how many were deleted and each
    /// failed key with S3's code and message.
    async fn delete_batch(&self, keys: &[&str]) -> Result<(usize, Vec<String>), StoreError> {
        const OPERATION: &str = "DeleteObjects media";
        if keys.is_empty() {
            return Ok((0, Vec::new()));
        }
        let objects = keys
            .iter()
            .map(|key| ObjectIdentifier::builder().key(*key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| backend(OPERATION, &e))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| backend(OPERATION, &e))?;
        let output = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| backend(OPERATION, &e))?;
        let errors: Vec<String> = output
            .errors()
            .iter()
            .map(|e| {
                format!(
                    "{} ({}: {})",
                    e.key().unwrap_or("<no key>"),
                    e.code().unwrap_or("<no code>"),
                    e.message().unwrap_or_default()
                )
            })
            .collect();
        Ok((keys.len().saturating_sub(errors.len()), errors))
    }
}

/// The error of a delete that left `failed` keys behind (each `key (Code: message)`).
fn delete_errors(deleted: usize, failed: &[String]) -> StoreError {
    let shown: Vec<&str> = failed
        .iter()
        .take(DELETE_ERRORS_SHOWN)
        .map(String::as_str)
        .collect();
    let more = failed.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    StoreError::Backend {
        operation: "DeleteObjects media",
        message: format!(
            "{deleted} deleted, {} not: {}{more}",
            failed.len(),
            shown.join(", ")
        ),
    }
}

/// A presigned upload: what `POST /products/{sku}/images` hands the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PresignedUpload {
    /// Where to PUT the bytes (the signature is in its query).
    pub url: String,
    /// When the URL stops working, in epoch seconds.
    pub expires_at: i64,
    /// Headers the PUT must carry with exactly these values (lowercase names), or S3 refuses
    /// it (403 `SignatureDoesNotMatch`): `content-type`, and `content-length`, which every
    /// HTTP client sets from the body (a browser's `fetch` may not set it by hand), so a body of
    /// another size than declared is refused.
    pub headers: BTreeMap<String, String>,
}

/// Signs upload URLs. The caller checks `content_type` (one of
/// [`ACCEPTED_CONTENT_TYPES`](super::ACCEPTED_CONTENT_TYPES)) and `content_length` (at most
/// [`MediaLimits::max_bytes`](super::MediaLimits::max_bytes)): both are bound into the
/// signature, so S3 takes no other type and no other size.
pub trait UploadSigner: Send + Sync {
    /// A PUT of `key` with `content_type` and exactly `content_length` bytes, valid for
    /// `expires_in` (at most 7 days; a URL signed with temporary credentials, as a Lambda's
    /// are, also stops working when they expire).
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> impl Future<Output = Result<PresignedUpload, StoreError>> + Send;
}

/// [`UploadSigner`] with the SDK's SigV4 query presigning; no network call.
#[derive(Debug, Clone)]
pub struct S3UploadSigner {
    client: Client,
    bucket: String,
}

impl S3UploadSigner {
    /// Signs PUTs to `bucket` with `client`'s credentials.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

impl UploadSigner for S3UploadSigner {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedUpload, StoreError> {
        const OPERATION: &str = "presign PutObject media";
        let length = i64::try_from(content_length).map_err(|_| StoreError::Backend {
            operation: OPERATION,
            message: format!("content length {content_length} out of range"),
        })?;
        // One start time for the signature and the expires_at we report.
        let start = SystemTime::now();
        let config = PresigningConfig::builder()
            .start_time(start)
            .expires_in(expires_in)
            .build()
            .map_err(|e| backend(OPERATION, &e))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(config)
            .await
            .map_err(|e| backend(OPERATION, &e))?;
        let headers = request
            .headers()
            // Host comes from the URL; any client sends it.
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        Ok(PresignedUpload {
            url: request.uri().to_owned(),
            expires_at: epoch_seconds(start + expires_in),
            headers,
        })
    }
}

/// [`DownloadSigner`] with the SDK's SigV4 query presigning; no network call. A URL signed
/// with temporary credentials (a Lambda's) also stops working when they expire, whatever its
/// `expires_in`: one reason a CDN in front of `thumbnails/` is the production answer.
#[derive(Debug, Clone)]
pub struct S3DownloadSigner {
    client: Client,
    bucket: String,
}

impl S3DownloadSigner {
    /// Signs GETs of `bucket`'s objects with `client`'s credentials.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

impl DownloadSigner for S3DownloadSigner {
    async fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<PresignedDownload, StoreError> {
        const OPERATION: &str = "presign GetObject media";
        let start = SystemTime::now();
        let config = PresigningConfig::builder()
            .start_time(start)
            .expires_in(expires_in)
            .build()
            .map_err(|e| backend(OPERATION, &e))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| backend(OPERATION, &e))?;
        Ok(PresignedDownload {
            url: request.uri().to_owned(),
            expires_at: epoch_seconds(start + expires_in),
        })
    }
}

fn epoch_seconds(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A signer for unit tests: a recognisable URL, no signature; remembers what it signed.
#[cfg(any(test, feature = "fakes"))]
#[derive(Debug, Default)]
pub struct FakeUploadSigner {
    clock: lambda_kit::clock::Clock,
    signed: std::sync::Mutex<Vec<(String, String, u64)>>,
}

#[cfg(any(test, feature = "fakes"))]
impl FakeUploadSigner {
    /// The URL prefix of every fake upload.
    pub const BASE_URL: &'static str = "https://uploads.example.invalid/";

    /// A signer whose `expires_at` counts from `clock`.
    pub fn new(clock: lambda_kit::clock::Clock) -> Self {
        Self {
            clock,
            signed: std::sync::Mutex::default(),
        }
    }

    /// Every (key, content type, content length) signed, in order.
    pub fn signed(&self) -> Vec<(String, String, u64)> {
        lambda_kit::sync::lock(&self.signed).clone()
    }
}

#[cfg(any(test, feature = "fakes"))]
impl UploadSigner for FakeUploadSigner {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedUpload, StoreError> {
        lambda_kit::sync::lock(&self.signed).push((
            key.to_owned(),
            content_type.to_owned(),
            content_length,
        ));
        let seconds = i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX);
        Ok(PresignedUpload {
            url: format!("{}{key}?X-Amz-Expires={seconds}", Self::BASE_URL),
            expires_at: self.clock.now().saturating_add(seconds),
            headers: BTreeMap::from([
                ("content-length".to_owned(), content_length.to_string()),
                ("content-type".to_owned(), content_type.to_owned()),
            ]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that can sign but has nowhere to send: presigning needs no network.
    async fn client() -> Client {
        s3_client(&crate::test_support::local_sdk_config().await)
    }

    /// The query parameters of `url`.
    fn query(url: &str) -> BTreeMap<String, String> {
        url.split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn a_presigned_put_binds_type_and_length() {
        let signer = S3UploadSigner::new(client().await, "media-bucket");
        let before = epoch_seconds(SystemTime::now());
        let upload = signer
            .presign_put(
                "uploads/MUG-1/img_0123456789abcdef0123456789abcdef",
                "image/png",
                12_345,
                Duration::from_secs(300),
            )
            .await
            .unwrap();
        // Path-style on a custom endpoint: the bucket is the first path segment.
        assert!(
            upload
                .url
                .contains("/media-bucket/uploads/MUG-1/img_0123456789abcdef0123456789abcdef?"),
            "{}",
            upload.url
        );
        let query = query(&upload.url);
        assert_eq!(
            query.get("X-Amz-SignedHeaders").map(String::as_str),
            Some("content-length%3Bcontent-type%3Bhost"),
            "{query:?}"
        );
        assert!(query.contains_key("X-Amz-Signature"), "{query:?}");
        assert_eq!(query.get("X-Amz-Expires").map(String::as_str), Some("300"));
        // No checksum of the (absent) body is bound: the client's bytes are unknown here.
        assert!(
            !query
                .keys()
                .any(|k| k.to_ascii_lowercase().contains("checksum")),
            "{query:?}"
        );
        assert_eq!(
            upload.headers,
            BTreeMap::from([
                ("content-length".to_owned(), "12345".to_owned()),
                ("content-type".to_owned(), "image/png".to_owned()),
            ])
        );
        assert!((before + 300..=before + 302).contains(&upload.expires_at));
    }

    #[tokio::test]
    async fn a_presigned_get_names_the_thumbnail_and_its_lifetime() {
        let signer = S3DownloadSigner::new(client().await, "media-bucket");
        let before = epoch_seconds(SystemTime::now());
        let key = "thumbnails/MUG-1/img_0123456789abcdef0123456789abcdef/128.jpg";
        let download = signer
            .presign_get(key, Duration::from_secs(960))
            .await
            .unwrap();
        assert!(
            download.url.contains(&format!("/media-bucket/{key}?")),
            "{}",
            download.url
        );
        let query = query(&download.url);
        assert_eq!(query.get("X-Amz-Expires").map(String::as_str), Some("960"));
        assert_eq!(
            query.get("X-Amz-SignedHeaders").map(String::as_str),
            Some("host"),
            "{query:?}"
        );
        assert!(query.contains_key("X-Amz-Signature"), "{query:?}");
        assert!((before + 960..=before + 962).contains(&download.expires_at));
        let too_long = signer
            .presign_get(key, Duration::from_secs(8 * 24 * 3600))
            .await;
        assert!(matches!(too_long, Err(StoreError::Backend { .. })));
    }

    #[tokio::test]
    async fn an_expiry_over_a_week_is_an_error() {
        let signer = S3UploadSigner::new(client().await, "media-bucket");
        let result = signer
            .presign_put(
                "uploads/a",
                "image/png",
                1,
                Duration::from_secs(8 * 24 * 3600),
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::Backend { .. })),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn the_fake_signer_remembers_and_expires_by_its_clock() {
        let signer = FakeUploadSigner::new(lambda_kit::clock::Clock::manual(1_000));
        let upload = signer
            .presign_put("uploads/x", "image/webp", 7, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(upload.expires_at, 1_060);
        assert!(upload.url.starts_with(FakeUploadSigner::BASE_URL));
        assert_eq!(
            upload.headers.get("content-type").map(String::as_str),
            Some("image/webp")
        );
        assert_eq!(
            signer.signed(),
            vec![("uploads/x".to_owned(), "image/webp".to_owned(), 7)]
        );
    }

    /// [`read_at_most`] of a body of `bytes` arriving in chunks of `chunk` bytes (a file's).
    async fn read_chunked(bytes: &[u8], chunk: usize, limit: u64) -> Vec<u8> {
        let path =
            std::env::temp_dir().join(format!("media-s3-{}-{chunk}-{limit}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let body = ByteStream::read_from()
            .path(&path)
            .buffer_size(chunk)
            .build()
            .await
            .unwrap();
        let read = read_at_most(body, limit, None, "test").await;
        std::fs::remove_file(&path).ok();
        read.unwrap()
    }

    #[tokio::test]
    async fn reads_stop_one_byte_past_the_limit() {
        let bytes: Vec<u8> = (0..=255).collect();
        let read = |limit: u64, chunk: usize| read_chunked(&bytes, chunk, limit);
        assert_eq!(read(1000, 16).await, bytes);
        assert_eq!(read(256, 16).await, bytes);
        assert_eq!(read(255, 16).await, bytes);
        assert_eq!(read(100, 16).await, bytes[..101]);
        assert_eq!(read(100, 7).await, bytes[..101]);
        assert_eq!(read(0, 16).await, bytes[..1]);
        let one_chunk = read_at_most(ByteStream::from(bytes.clone()), 9, Some(256), "test")
            .await
            .unwrap();
        assert_eq!(one_chunk, bytes[..10]);
        let empty = read_at_most(ByteStream::from(Vec::new()), 9, Some(0), "test")
            .await
            .unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn a_partial_delete_names_the_failed_keys() {
        let failed: Vec<String> = (0..12)
            .map(|i| format!("k{i} (AccessDenied: no)"))
            .collect();
        let err = delete_errors(3, &failed).to_string();
        assert!(err.contains("3 deleted, 12 not"), "{err}");
        assert!(err.contains("k0 (AccessDenied: no)"), "{err}");
        assert!(err.contains("k9 (AccessDenied: no) and 2 more"), "{err}");
        assert!(!err.contains("k10"), "{err}");
    }
}

/// Against a real bucket (LocalStack's S3): run with
/// `cargo test -p shop-core --lib -- --ignored media` while `make up` runs. It creates and
/// deletes its own bucket.
#[cfg(test)]
mod real_bucket {
    use aws_sdk_s3::error::DisplayErrorContext;

    use super::*;
    use crate::media::ImageKeys;

    async fn bucket() -> (Client, String) {
        let conf = crate::test_support::local_sdk_config().await;
        let client = s3_client(&conf);
        let bucket = format!("media-store-test-{}", std::process::id());
        client
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(&e)));
        (client, bucket)
    }

    async fn remove_bucket(client: &Client, bucket: &str) {
        let objects = S3ImageObjects::new(client.clone(), bucket);
        for prefix in [ImageKeys::UPLOADS_PREFIX, ImageKeys::THUMBNAILS_PREFIX] {
            objects.delete_prefix(prefix).await.unwrap();
        }
        client.delete_bucket().bucket(bucket).send().await.ok();
    }

    #[tokio::test]
    #[ignore = "needs an S3 endpoint (AWS_ENDPOINT_URL, default LocalStack's)"]
    async fn media_objects_on_a_real_bucket() {
        let (client, bucket) = bucket().await;
        let objects = S3ImageObjects::new(client.clone(), &bucket);
        let bytes: Vec<u8> = (0..=255).collect();

        objects
            .put("uploads/a/small", bytes.clone(), "image/png")
            .await
            .unwrap();
        let head = client
            .head_object()
            .bucket(&bucket)
            .key("uploads/a/small")
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_type(), Some("image/png"));

        // Ranged GETs: within, past the end of, and wholly after a small object.
        assert_eq!(
            objects.get_range("uploads/a/small", 0..16).await.unwrap(),
            Some(bytes[..16].to_vec())
        );
        assert_eq!(
            objects
                .get_range("uploads/a/small", 250..1000)
                .await
                .unwrap(),
            Some(bytes[250..].to_vec())
        );
        assert_eq!(
            objects
                .get_range("uploads/a/small", 300..400)
                .await
                .unwrap(),
            Some(Vec::new())
        );
        assert_eq!(
            objects.get_range("uploads/a/small", 5..5).await.unwrap(),
            Some(Vec::new())
        );
        assert_eq!(
            objects.get_range("uploads/a/none", 0..16).await.unwrap(),
            None
        );
        objects
            .put("uploads/a/empty", Vec::new(), "image/png")
            .await
            .unwrap();
        assert_eq!(
            objects.get_range("uploads/a/empty", 0..16).await.unwrap(),
            Some(Vec::new())
        );

        // Whole-object GETs stop at max_bytes + 1.
        assert_eq!(
            objects.get("uploads/a/small", 1000).await.unwrap(),
            Some(bytes.clone())
        );
        assert_eq!(
            objects.get("uploads/a/small", 256).await.unwrap(),
            Some(bytes.clone())
        );
        assert_eq!(
            objects.get("uploads/a/small", 100).await.unwrap(),
            Some(bytes[..101].to_vec())
        );
        assert_eq!(objects.get("uploads/a/none", 100).await.unwrap(), None);
        assert_eq!(
            objects.get("uploads/a/empty", 100).await.unwrap(),
            Some(Vec::new())
        );

        // Prefix deletes: three objects, then none; a neighbour prefix is left alone.
        for size in [128, 512, 1024] {
            objects
                .put(
                    &format!("thumbnails/a/img/{size}.jpg"),
                    vec![0; 10],
                    "image/jpeg",
                )
                .await
                .unwrap();
        }
        objects
            .put("thumbnails/a/img2/128.jpg", vec![0; 10], "image/jpeg")
            .await
            .unwrap();
        assert_eq!(objects.delete_prefix("thumbnails/a/img/").await.unwrap(), 3);
        assert_eq!(objects.delete_prefix("thumbnails/a/img/").await.unwrap(), 0);
        assert!(
            objects
                .get_range("thumbnails/a/img2/128.jpg", 0..1)
                .await
                .unwrap()
                .is_some()
        );
        assert!(objects.delete_prefix("").await.is_err());

        // A presigned PUT works for the signed type and length (no HTTP client among the
        // dev-dependencies to upload with: the signature's shape is checked instead).
        let signer = S3UploadSigner::new(client.clone(), &bucket);
        let upload = signer
            .presign_put("uploads/a/signed", "image/png", 4, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(upload.url.contains("X-Amz-Signature="), "{}", upload.url);
        assert!(
            upload
                .url
                .contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
            "{}",
            upload.url
        );

        remove_bucket(&client, &bucket).await;
    }
}
