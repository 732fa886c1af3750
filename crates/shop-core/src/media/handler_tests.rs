//! The four media functions on the in-memory stores, through the kit's batch processor (so
//! idempotency, partial batch failures and the envelope rewrite are exercised as deployed):
//! real uploads, both orders of the consumers, redeliveries, hostile files and keys, one
//! consumer's failures, and the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use lambda_kit::clock::{Clock, rfc3339};
use lambda_kit::config::ConfigError;
use lambda_kit::messaging::{
    BatchProcessor, EventHandler, FromEnvelope as _, IdempotencyConfig, Idempotent,
    InMemoryIdempotencyStore, ProcessError,
};

use super::samples::{self, png_header};
use super::*;
use crate::auth::{InMemorySessionStore, InMemoryUserStore, ROLE_ADMIN, ROLE_CUSTOMER, User};
use crate::catalog::InMemoryProductStore;
use crate::store::StoreError;
use crate::test_support::{
    assert_each_required, assert_invalid, body_json, product, request, settings_from, sku,
};

const BUCKET: &str = "shop-media";
const SKU: &str = "MUG-1";
const START: i64 = 1_800_000_000;

// ---- fixtures ----

/// A real PNG, `width` × `height` ([`samples::png`]).
fn png(width: u32, height: u32) -> Vec<u8> {
    samples::png(width, height).unwrap()
}

/// An eTag of `bytes` (FNV-1a: distinct contents, distinct tags).
fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

/// An S3 ObjectCreated:Put notification of `key`, as S3 writes it.
fn created(key: &str, size: usize, etag: &str) -> serde_json::Value {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": "2026-12-01T23:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.9"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "media-events",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0055AED6DCD90281E5"}
        }
    }]})
}

/// `s3` wrapped as SNS delivers it when raw message delivery is off.
fn sns(s3: &serde_json::Value) -> String {
    serde_json::json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:eu-west-1:000000000000:shop-media-events",
        "Subject": "Amazon S3 Notification",
        "Message": s3.to_string(),
        "Timestamp": "2026-12-01T23:00:00.100Z",
        "SignatureVersion": "1"
    })
    .to_string()
}

/// An SQS batch of `bodies`, message ids `m0`, `m1`…
fn batch(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("m{i}"));
            record.body = Some(body.clone());
            record
        })
        .collect();
    event
}

// ---- the stores, shared between consumers like the real bucket and tables ----

/// Calls made to the bucket.
#[derive(Debug, Default)]
struct Calls {
    ranged_gets: AtomicUsize,
    gets: AtomicUsize,
    puts: AtomicUsize,
}

/// The shared bucket as one function sees it: counted, and failing every call when `broken`.
#[derive(Debug, Clone)]
struct Bucket {
    objects: Arc<InMemoryImageObjects>,
    calls: Arc<Calls>,
    broken: bool,
}

impl Bucket {
    fn check(&self) -> Result<(), StoreError> {
        if self.broken {
            Err(StoreError::Backend {
                operation: "GetObject media",
                message: "service unavailable".to_owned(),
            })
        } else {
            Ok(())
        }
    }
}

impl ImageObjects for Bucket {
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.calls.ranged_gets.fetch_add(1, Ordering::SeqCst);
        self.objects.get_range(key, range).await
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.calls.gets.fetch_add(1, Ordering::SeqCst);
        self.objects.get(key, max_bytes).await
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.calls.puts.fetch_add(1, Ordering::SeqCst);
        self.objects.put(key, bytes, content_type).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        self.check()?;
        self.objects.delete_prefix(prefix).await
    }
}

/// A table shared by several functions.
#[derive(Debug, Default)]
struct Shared<T>(Arc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: ImageRecords> ImageRecords for Shared<T> {
    async fn record_verdict(
        &self,
        keys: &ImageKeys,
        verdict: &ImageVerdict,
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.0.record_verdict(keys, verdict).await
    }

    async fn mark_thumbnails(
        &self,
        keys: &ImageKeys,
        thumbnails: &[StoredThumbnail],
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.0.mark_thumbnails(keys, thumbnails).await
    }

    async fn get(&self, image_id: &ImageId) -> Result<Option<ImageRecord>, StoreError> {
        self.0.get(image_id).await
    }

    async fn delete(&self, image_id: &ImageId) -> Result<(), StoreError> {
        self.0.delete(image_id).await
    }
}

impl<T: ProductImages> ProductImages for Shared<T> {
    async fn add(&self, sku: &Sku, image: &ProductImage) -> Result<ImageAdded, StoreError> {
        self.0.add(sku, image).await
    }

    async fn remove(&self, sku: &Sku, image_id: &ImageId) -> Result<bool, StoreError> {
        self.0.remove(sku, image_id).await
    }

    async fn list(&self, sku: &Sku) -> Result<Vec<ProductImage>, StoreError> {
        self.0.list(sku).await
    }
}

/// Records whose image is deleted (by images-api) just before the thumbnails are marked.
#[derive(Debug, Clone)]
struct DeletedBeforeMark(Shared<InMemoryImageRecords>);

impl ImageRecords for DeletedBeforeMark {
    async fn record_verdict(
        &self,
        keys: &ImageKeys,
        verdict: &ImageVerdict,
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.0.record_verdict(keys, verdict).await
    }

    async fn mark_thumbnails(
        &self,
        keys: &ImageKeys,
        thumbnails: &[StoredThumbnail],
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.0.delete(&keys.image_id).await?;
        self.0.mark_thumbnails(keys, thumbnails).await
    }

    async fn get(&self, image_id: &ImageId) -> Result<Option<ImageRecord>, StoreError> {
        self.0.get(image_id).await
    }

    async fn delete(&self, image_id: &ImageId) -> Result<(), StoreError> {
        self.0.delete(image_id).await
    }
}

/// Products whose image is deleted (by images-api: the tombstone, then off the product) just
/// before catalog-images' add: the publish read the record while it still stood.
#[derive(Debug, Clone)]
struct DeletedBeforeAdd {
    records: Shared<InMemoryImageRecords>,
    products: Shared<InMemoryProductImages>,
}

impl ProductImages for DeletedBeforeAdd {
    async fn add(&self, sku: &Sku, image: &ProductImage) -> Result<ImageAdded, StoreError> {
        self.records.delete(&image.image_id).await?;
        self.products.remove(sku, &image.image_id).await?;
        self.products.add(sku, image).await
    }

    async fn remove(&self, sku: &Sku, image_id: &ImageId) -> Result<bool, StoreError> {
        self.products.remove(sku, image_id).await
    }

    async fn list(&self, sku: &Sku) -> Result<Vec<ProductImage>, StoreError> {
        self.products.list(sku).await
    }
}

type Processor<H> = BatchProcessor<H, InMemoryIdempotencyStore>;
type Records = Shared<InMemoryImageRecords>;
type Products = Shared<InMemoryProductImages>;

fn processor<H: EventHandler>(name: &'static str, handler: H) -> Processor<H> {
    BatchProcessor::new(
        name,
        handler,
        Idempotent::new(InMemoryIdempotencyStore::default(), name),
    )
}

/// Runs `bodies` through `processor` as one batch; the ids of the records to retry.
async fn run<H: EventHandler>(processor: &Processor<H>, bodies: &[String]) -> Vec<String> {
    processor
        .process(as_envelopes(batch(bodies)))
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

/// Runs the one record `body` through `processor` and asserts that it succeeded.
async fn assert_acked<H: EventHandler>(processor: &Processor<H>, body: &str) {
    let failed = run(processor, &[body.to_owned()]).await;
    assert!(failed.is_empty(), "{body}: failed");
}

/// The bucket, the tables and the product `MUG-1`.
#[derive(Debug, Default)]
struct World {
    objects: Arc<InMemoryImageObjects>,
    calls: Arc<Calls>,
    records: Records,
    products: Products,
    limits: MediaLimits,
}

impl World {
    fn new() -> Self {
        let records = Records::default();
        // Guarded, as catalog-images' store is.
        let products = Shared(Arc::new(InMemoryProductImages::guarded_by(&records.0)));
        products.0.add_product(&sku(SKU));
        Self {
            records,
            products,
            ..Self::default()
        }
    }

    fn with_limits(limits: MediaLimits) -> Self {
        Self {
            limits,
            ..Self::new()
        }
    }

    fn bucket(&self) -> Bucket {
        Bucket {
            objects: Arc::clone(&self.objects),
            calls: Arc::clone(&self.calls),
            broken: false,
        }
    }

    fn broken_bucket(&self) -> Bucket {
        Bucket {
            broken: true,
            ..self.bucket()
        }
    }

    fn checker_on(&self, bucket: Bucket) -> Processor<ImageChecker<Bucket, Records>> {
        processor(
            CHECKER_FUNCTION_NAME,
            ImageChecker::new(bucket, self.records.clone(), BUCKET, self.limits),
        )
    }

    fn checker(&self) -> Processor<ImageChecker<Bucket, Records>> {
        self.checker_on(self.bucket())
    }

    fn thumbnailer_on(&self, bucket: Bucket) -> Processor<Thumbnailer<Bucket, Records>> {
        processor(
            THUMBNAILER_FUNCTION_NAME,
            Thumbnailer::new(bucket, self.records.clone(), BUCKET, self.limits),
        )
        .with_concurrency(THUMBNAILER_CONCURRENCY)
    }

    fn thumbnailer(&self) -> Processor<Thumbnailer<Bucket, Records>> {
        self.thumbnailer_on(self.bucket())
    }

    fn catalog(&self) -> Processor<CatalogImages<Records, Products>> {
        processor(
            CATALOG_IMAGES_FUNCTION_NAME,
            CatalogImages::new(self.records.clone(), self.products.clone(), BUCKET),
        )
    }

    /// Stores `bytes` as a client's upload of a new image of `MUG-1`; its keys and the
    /// notification S3 sends for it.
    fn upload(&self, bytes: Vec<u8>) -> (ImageKeys, String) {
        let keys = ImageKeys::new(sku(SKU), ImageId::generate());
        let body = created(&keys.upload_key(), bytes.len(), &etag(&bytes)).to_string();
        self.objects.insert(&keys.upload_key(), bytes, "image/png");
        (keys, body)
    }

    /// The notifications of the thumbnails of `keys` in the bucket, smallest first.
    fn thumbnail_events(&self, keys: &ImageKeys) -> Vec<String> {
        keys.thumbnail_keys()
            .into_iter()
            .filter_map(|(_, key)| {
                let (bytes, _) = self.objects.object(&key)?;
                Some(created(&key, bytes.len(), &etag(&bytes)).to_string())
            })
            .collect()
    }

    async fn record(&self, keys: &ImageKeys) -> Option<ImageRecord> {
        self.records.get(&keys.image_id).await.unwrap()
    }

    async fn verdict(&self, keys: &ImageKeys) -> Option<ImageVerdict> {
        self.record(keys).await.and_then(|r| r.verdict)
    }

    async fn shown(&self) -> Vec<ProductImage> {
        self.products.list(&sku(SKU)).await.unwrap()
    }

    fn thumbnail_objects(&self, keys: &ImageKeys) -> Vec<String> {
        self.objects
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(&keys.thumbnail_prefix()))
            .collect()
    }
}

fn rejected(reason: RejectReason) -> Option<ImageVerdict> {
    Some(ImageVerdict::rejected(reason))
}

// ---- the happy path, in every order ----

#[tokio::test]
async fn a_real_png_is_checked_thumbnailed_and_published_once_in_any_order() {
    for checker_first in [true, false] {
        for small_thumbnail_first in [true, false] {
            let world = World::new();
            let (keys, upload) = world.upload(png(640, 427));
            let (checker, thumbnailer, catalog) =
                (world.checker(), world.thumbnailer(), world.catalog());
            // catalog-images hears of the upload first: too early, acknowledged.
            assert_acked(&catalog, &upload).await;
            if checker_first {
                assert_acked(&checker, &upload).await;
                assert_acked(&thumbnailer, &upload).await;
            } else {
                // The checker's queue is behind: the thumbnailer judges the upload itself.
                assert_acked(&thumbnailer, &upload).await;
                assert_eq!(world.calls.ranged_gets.load(Ordering::SeqCst), 1);
                assert_acked(&checker, &upload).await;
            }
            let record = world.record(&keys).await.unwrap();
            assert_eq!(
                record.verdict,
                Some(ImageVerdict::Accepted {
                    format: ImageFormat::Png,
                    width: 640,
                    height: 427,
                    bytes: u64::try_from(world.objects.object(&keys.upload_key()).unwrap().0.len())
                        .unwrap(),
                })
            );
            // Both thumbnails, JPEG, at their keys; the mark lists them.
            for (size, key) in keys.thumbnail_keys() {
                let (jpeg, content_type) = world.objects.object(&key).unwrap();
                assert_eq!(content_type, "image/jpeg");
                assert!(jpeg.starts_with(&[0xFF, 0xD8]), "{key}");
                let decoded = image::load_from_memory(&jpeg).unwrap();
                assert_eq!(decoded.width().max(decoded.height()), size.min(640));
            }
            assert_eq!(
                record.thumbnails.as_ref().map(Vec::len),
                Some(THUMBNAIL_SIZES.len())
            );
            // The thumbnails' events publish it, once, whichever comes first.
            let mut events = world.thumbnail_events(&keys);
            assert_eq!(events.len(), 2);
            if !small_thumbnail_first {
                events.reverse();
            }
            for event in &events {
                assert_acked(&catalog, event).await;
                assert_eq!(world.shown().await.len(), 1);
            }
            let shown = world.shown().await;
            assert_eq!(shown[0].image_id, keys.image_id);
            assert_eq!((shown[0].width, shown[0].height), (640, 427));
            assert_eq!(shown[0].thumbnails.len(), 2);
        }
    }
}

#[tokio::test]
async fn a_thumbnail_event_before_the_mark_is_retried_then_publishes() {
    let world = World::new();
    let (keys, upload) = world.upload(png(300, 200));
    assert!(run(&world.checker(), &[upload]).await.is_empty());
    // The thumbnailer has PUT both thumbnails but not marked them yet.
    let made = thumbnails(
        &world.objects.object(&keys.upload_key()).unwrap().0,
        &world.limits,
    )
    .unwrap();
    for t in &made {
        world
            .objects
            .insert(&keys.thumbnail_key(t.size_px), t.jpeg.clone(), "image/jpeg");
    }
    let catalog = world.catalog();
    let events = world.thumbnail_events(&keys);
    assert_eq!(
        run(&catalog, &events[..1]).await,
        vec!["m0"],
        "transient: retried"
    );
    assert!(world.shown().await.is_empty());
    let stored: Vec<_> = made.iter().map(Thumbnail::stored).collect();
    world.records.mark_thumbnails(&keys, &stored).await.unwrap();
    // The redelivery (its claim was released) publishes.
    assert!(run(&catalog, &events[..1]).await.is_empty());
    assert_eq!(world.shown().await.len(), 1);
    assert!(run(&catalog, &events[1..]).await.is_empty());
    assert_eq!(world.shown().await.len(), 1);
}

#[tokio::test]
async fn the_same_event_twice_changes_nothing_and_new_content_is_new() {
    let world = World::new();
    let (keys, upload) = world.upload(png(200, 200));
    let (checker, thumbnailer, catalog) = (world.checker(), world.thumbnailer(), world.catalog());
    for _ in 0..2 {
        // Raw delivery and the SNS envelope of the same object are the same event.
        assert_acked(&checker, &upload).await;
        let wrapped = sns(&serde_json::from_str(&upload).unwrap());
        assert!(run(&checker, &[wrapped]).await.is_empty());
        assert_acked(&thumbnailer, &upload).await;
    }
    assert_eq!(
        world.calls.ranged_gets.load(Ordering::SeqCst),
        1,
        "checked once"
    );
    assert_eq!(world.calls.gets.load(Ordering::SeqCst), 1, "decoded once");
    assert_eq!(
        world.calls.puts.load(Ordering::SeqCst),
        2,
        "two thumbnails, once"
    );
    let events = world.thumbnail_events(&keys);
    for _ in 0..2 {
        assert!(run(&catalog, &events).await.is_empty());
    }
    assert_eq!(world.shown().await.len(), 1);

    // A re-upload to the same key with other content is a new event: judged again.
    let text = b"not an image after all".to_vec();
    let reupload = created(&keys.upload_key(), text.len(), &etag(&text)).to_string();
    world.objects.insert(&keys.upload_key(), text, "image/png");
    assert!(run(&checker, &[reupload]).await.is_empty());
    assert_eq!(world.calls.ranged_gets.load(Ordering::SeqCst), 2);
    assert_eq!(
        world.verdict(&keys).await,
        rejected(RejectReason::NotAnImage)
    );
}

// ---- hostile and broken uploads ----

#[tokio::test]
async fn a_text_file_named_png_is_not_an_image_and_never_shown() {
    for checker_first in [true, false] {
        let world = World::new();
        let (keys, upload) = world.upload(b"<html>hello, I am a .png</html>".to_vec());
        let (checker, thumbnailer, catalog) =
            (world.checker(), world.thumbnailer(), world.catalog());
        let order = if checker_first {
            [&checker as &dyn Run, &thumbnailer]
        } else {
            [&thumbnailer as &dyn Run, &checker]
        };
        for consumer in order {
            assert!(
                consumer.run(&upload).await.is_empty(),
                "a rejection succeeds"
            );
        }
        assert!(run(&catalog, &[upload]).await.is_empty());
        assert_eq!(
            world.verdict(&keys).await,
            rejected(RejectReason::NotAnImage)
        );
        assert!(world.thumbnail_objects(&keys).is_empty());
        assert_eq!(world.record(&keys).await.unwrap().thumbnails, None);
        assert_eq!(
            world.calls.gets.load(Ordering::SeqCst),
            0,
            "never read whole"
        );
        assert!(world.shown().await.is_empty());
    }
}

/// A processor of any consumer, for tests that run them in varying orders.
trait Run {
    fn run<'a>(
        &'a self,
        body: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + 'a>>;
}

impl<H: EventHandler> Run for Processor<H> {
    fn run<'a>(
        &'a self,
        body: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + 'a>> {
        let bodies = vec![body.to_owned()];
        Box::pin(async move { run(self, &bodies).await })
    }
}

#[tokio::test]
async fn an_oversize_object_is_too_large_without_being_read() {
    let limits = MediaLimits {
        max_bytes: 2_000,
        ..MediaLimits::default()
    };
    for checker_first in [true, false] {
        let world = World::with_limits(limits);
        let bytes = png(400, 400);
        assert!(bytes.len() > 2_000);
        let (keys, upload) = world.upload(bytes);
        let (checker, thumbnailer) = (world.checker(), world.thumbnailer());
        let order = if checker_first {
            [&checker as &dyn Run, &thumbnailer]
        } else {
            [&thumbnailer as &dyn Run, &checker]
        };
        for consumer in order {
            assert!(consumer.run(&upload).await.is_empty());
        }
        assert_eq!(world.verdict(&keys).await, rejected(RejectReason::TooLarge));
        assert_eq!(world.calls.ranged_gets.load(Ordering::SeqCst), 0);
        assert_eq!(world.calls.gets.load(Ordering::SeqCst), 0);
        assert!(world.thumbnail_objects(&keys).is_empty());
    }
}

#[tokio::test]
async fn an_upload_replaced_by_a_larger_one_is_too_large_for_the_thumbnailer() {
    let limits = MediaLimits {
        max_bytes: 2_000,
        ..MediaLimits::default()
    };
    let world = World::with_limits(limits);
    let small = png(8, 8);
    let (keys, upload) = world.upload(small);
    assert_acked(&world.checker(), &upload).await;
    // Replaced by a big file after the check; its own event is still on the way.
    world
        .objects
        .insert(&keys.upload_key(), png(400, 400), "image/png");
    assert!(run(&world.thumbnailer(), &[upload]).await.is_empty());
    assert_eq!(world.verdict(&keys).await, rejected(RejectReason::TooLarge));
    assert!(world.thumbnail_objects(&keys).is_empty());
}

#[tokio::test]
async fn a_png_header_declaring_100000_squared_is_too_many_pixels_fast() {
    for checker_first in [true, false] {
        let world = World::new();
        let (keys, upload) = world.upload(png_header(100_000, 100_000));
        let (checker, thumbnailer) = (world.checker(), world.thumbnailer());
        let order = if checker_first {
            [&checker as &dyn Run, &thumbnailer]
        } else {
            [&thumbnailer as &dyn Run, &checker]
        };
        let started = Instant::now();
        for consumer in order {
            assert!(consumer.run(&upload).await.is_empty());
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            world.verdict(&keys).await,
            rejected(RejectReason::TooManyPixels)
        );
        assert_eq!(world.calls.gets.load(Ordering::SeqCst), 0, "never decoded");
        assert!(world.thumbnail_objects(&keys).is_empty());
    }
}

#[tokio::test]
async fn a_header_that_lies_is_rejected_by_the_decoder_as_corrupt() {
    // A valid 64×64 header and no image data: the checker accepts the header, the decoder
    // finds nothing behind it; the rejection is recorded and the record succeeds.
    let world = World::new();
    let (keys, upload) = world.upload(png_header(64, 64));
    assert_acked(&world.checker(), &upload).await;
    assert!(world.verdict(&keys).await.is_some_and(|v| v.is_accepted()));
    assert!(run(&world.thumbnailer(), &[upload]).await.is_empty());
    assert_eq!(world.verdict(&keys).await, rejected(RejectReason::Corrupt));
    assert!(world.thumbnail_objects(&keys).is_empty());
}

// ---- failures stay where they happen ----

#[tokio::test]
async fn a_broken_bucket_for_one_consumer_does_not_affect_the_others() {
    let world = World::new();
    let (keys, upload) = world.upload(png(120, 80));
    // The thumbnailer cannot read the bucket: its record fails (retried, then its DLQ)…
    let broken = world.thumbnailer_on(world.broken_bucket());
    assert_eq!(
        run(&broken, std::slice::from_ref(&upload)).await,
        vec!["m0"]
    );
    assert!(world.thumbnail_objects(&keys).is_empty());
    // …while the checker, on its own queue, records the verdict as ever.
    assert_acked(&world.checker(), &upload).await;
    assert!(world.verdict(&keys).await.is_some_and(|v| v.is_accepted()));
    // catalog-images, unaffected, publishes once the thumbnailer recovers.
    assert_acked(&world.thumbnailer(), &upload).await;
    assert!(
        run(&world.catalog(), &world.thumbnail_events(&keys))
            .await
            .is_empty()
    );
    assert_eq!(world.shown().await.len(), 1);

    // And within one batch, the failing record fails alone.
    let checker = world.checker_on(world.broken_bucket());
    let (_, other) = world.upload(png(10, 10));
    let test_event = serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-12-01T22:00:00.000Z", "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}).to_string();
    assert_eq!(run(&checker, &[test_event, other]).await, vec!["m1"]);
}

#[tokio::test]
async fn an_image_deleted_while_thumbnailed_leaves_nothing_behind() {
    let world = World::new();
    let (keys, upload) = world.upload(png(100, 100));
    assert_acked(&world.checker(), &upload).await;
    let thumbnailer = processor(
        THUMBNAILER_FUNCTION_NAME,
        Thumbnailer::new(
            world.bucket(),
            DeletedBeforeMark(world.records.clone()),
            BUCKET,
            world.limits,
        ),
    );
    assert!(run(&thumbnailer, &[upload]).await.is_empty());
    assert!(world.thumbnail_objects(&keys).is_empty());
    assert_eq!(world.record(&keys).await, None);
}

#[tokio::test]
async fn an_image_deleted_while_catalog_images_publishes_it_is_not_brought_back() {
    // The race a DELETE right after the first thumbnail's publish used to lose: the second
    // thumbnail's event reads the record (ready), the DELETE runs, then the add.
    let world = World::new();
    let (keys, upload) = world.upload(png(300, 200));
    assert_acked(&world.checker(), &upload).await;
    assert_acked(&world.thumbnailer(), &upload).await;
    let events = world.thumbnail_events(&keys);
    assert_eq!(events.len(), 2);
    assert!(run(&world.catalog(), &events[..1]).await.is_empty());
    assert_eq!(world.shown().await.len(), 1);
    let racing = processor(
        CATALOG_IMAGES_FUNCTION_NAME,
        CatalogImages::new(
            world.records.clone(),
            DeletedBeforeAdd {
                records: world.records.clone(),
                products: world.products.clone(),
            },
            BUCKET,
        ),
    );
    // Acknowledged (nothing to retry), and the image stays deleted.
    assert!(run(&racing, &events[1..]).await.is_empty());
    assert!(world.shown().await.is_empty());
    assert_eq!(world.record(&keys).await, None);
    // Late redeliveries of the upload's event to the other consumers make nothing again.
    assert_acked(&world.checker(), &upload).await;
    assert_acked(&world.thumbnailer(), &upload).await;
    assert_eq!(world.record(&keys).await, None);
    assert!(run(&world.catalog(), &events).await.is_empty());
    assert!(world.shown().await.is_empty());
}

#[tokio::test]
async fn a_deleted_upload_or_image_is_acknowledged_and_nothing_is_made_again() {
    let world = World::new();
    let (keys, upload) = world.upload(png(50, 50));
    world
        .objects
        .delete_prefix(&keys.upload_key())
        .await
        .unwrap();
    assert_acked(&world.checker(), &upload).await;
    assert_acked(&world.thumbnailer(), &upload).await;
    assert_eq!(world.record(&keys).await, None);
    // A thumbnail event of an image deleted since: nothing published.
    let event = created(&keys.thumbnail_key(128), 10, "\"x\"").to_string();
    assert!(run(&world.catalog(), &[event]).await.is_empty());
    assert!(world.shown().await.is_empty());
}

// ---- what arrives on the queues ----

#[tokio::test]
async fn keys_outside_the_layout_fail_permanently_in_every_consumer() {
    let world = World::new();
    let id = ImageId::generate();
    let bodies: Vec<String> = [
        format!("uploads/{SKU}/../{id}"),
        format!("uploads/{SKU}/{id}/extra"),
        format!("uploads/%2E%2E/{id}"),
        format!("thumbnails/{SKU}/{id}/64.jpg"),
        format!("thumbnails/{SKU}/{id}/0128.jpg"),
        format!("thumbnails/{SKU}/{id}%2F128.jpg"),
        format!("other/{SKU}/{id}"),
        "x".repeat(5000),
    ]
    .iter()
    .map(|key| created(key, 10, "\"e\"").to_string())
    .chain([
        "not json".to_owned(),
        serde_json::json!({"Records": []}).to_string(),
        serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put"}]}).to_string(),
    ])
    .collect();
    let expected: Vec<String> = (0..bodies.len()).map(|i| format!("m{i}")).collect();
    let sorted = |mut ids: Vec<String>| {
        ids.sort_by_key(|id| id[1..].parse::<usize>().unwrap_or(usize::MAX));
        ids
    };
    assert_eq!(sorted(run(&world.checker(), &bodies).await), expected);
    assert_eq!(sorted(run(&world.thumbnailer(), &bodies).await), expected);
    assert_eq!(sorted(run(&world.catalog(), &bodies).await), expected);
    assert!(world.objects.keys().is_empty());
}

#[tokio::test]
async fn records_fail_with_the_reason_as_malformed() {
    let checker = World::new().checker();
    let handler = checker.handler();
    for (body, reason) in [
        (created("other/x", 1, "\"e\"").to_string(), "not an image upload or thumbnail key"),
        ("{}".to_owned(), "not an S3 notification"),
        (
            serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": format!("uploads/{SKU}/{}", ImageId::generate()), "size": 1}}}]}).to_string(),
            "without s3.object.eTag",
        ),
    ] {
        let envelope = envelope_of(&body, "m0");
        match handler.handle_envelope(&envelope).await {
            Err(ProcessError::Malformed(message)) => {
                assert!(message.contains(reason), "{message}");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    // A foreign bucket's object is no object of ours either.
    let mut foreign = created(
        &format!("uploads/{SKU}/{}", ImageId::generate()),
        1,
        "\"e\"",
    );
    foreign["Records"][0]["s3"]["bucket"]["name"] = "someone-else".into();
    let envelope = envelope_of(&foreign.to_string(), "m0");
    assert!(matches!(
        handler.handle_envelope(&envelope).await,
        Err(ProcessError::Malformed(m)) if m.contains("someone-else")
    ));
}

#[tokio::test]
async fn test_events_other_events_and_the_other_prefix_are_acknowledged() {
    let world = World::new();
    let keys = ImageKeys::new(sku(SKU), ImageId::generate());
    let test_event = serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-12-01T22:00:00.000Z", "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "x"});
    let mut removed = created(&keys.upload_key(), 0, "\"e\"");
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();
    let thumbnail = created(&keys.thumbnail_key(512), 10, "\"t\"").to_string();
    let bodies = [
        test_event.to_string(),
        sns(&test_event),
        removed.to_string(),
        thumbnail.clone(),
    ];
    assert!(run(&world.checker(), &bodies).await.is_empty());
    assert!(run(&world.thumbnailer(), &bodies).await.is_empty());
    assert_eq!(world.calls.ranged_gets.load(Ordering::SeqCst), 0);
    // catalog-images takes thumbnails: this one's image has no record (deleted).
    assert!(run(&world.catalog(), &bodies).await.is_empty());
    assert_eq!(world.record(&keys).await, None);
}

#[test]
fn a_notification_becomes_an_envelope_keyed_by_bucket_key_etag_and_version() {
    let key = format!("uploads/{SKU}/{}", ImageId::generate());
    let body = created(&key, 1234, "\"abc\"");
    let envelope = envelope_of(&body.to_string(), "m0");
    assert_eq!(envelope.event_id, format!("{BUCKET}/{key}/\"abc\""));
    assert_eq!(envelope.event_type, "ObjectCreated:Put");
    assert_eq!(envelope.source, NOTIFICATION_SOURCE);
    assert_eq!(envelope.correlation_id, "C3D13FE58DE4C810");
    assert_eq!(envelope.occurred_at, "2026-12-01T23:00:00.000Z");
    // SNS-wrapped: the same envelope.
    assert_eq!(envelope_of(&sns(&body), "m1"), envelope);
    let mut versioned = body;
    versioned["Records"][0]["s3"]["object"]["versionId"] = "3HL4kqtJlcpXroDTDmJ".into();
    assert_eq!(
        envelope_of(&versioned.to_string(), "m0").event_id,
        format!("{BUCKET}/{key}/\"abc\"/3HL4kqtJlcpXroDTDmJ")
    );
    // The S3 key is URL-encoded in events; decoded once, strictly.
    let keys = ImageKeys::from_event_key(&key).unwrap();
    let encoded = key.replace('/', "%2F");
    let decoded = BucketEvent::from_envelope(&envelope_of(
        &created(&encoded, 1, "\"e\"").to_string(),
        "m0",
    ))
    .unwrap();
    assert_eq!(
        decoded.objects()[0].object,
        ImageObject::Upload(keys.clone())
    );
    assert_eq!(decoded.objects()[0].size, 1);
    let thumb = BucketEvent::from_envelope(&envelope_of(
        &created(&keys.thumbnail_key(128), 9, "\"t\"").to_string(),
        "m0",
    ))
    .unwrap();
    assert_eq!(
        thumb.objects()[0].object,
        ImageObject::Thumbnail { keys, size_px: 128 }
    );
    // What is unreadable says why, under the record's id.
    let unreadable = envelope_of("[1, 2]", "m9");
    assert_eq!(unreadable.event_type, UNREADABLE_NOTIFICATION);
    assert_eq!(unreadable.event_id, "unreadable/m9");
    assert!(BucketEvent::from_envelope(&unreadable).is_err());
}

#[test]
fn failures_are_permanent_or_transient_by_cause() {
    let id = ImageId::generate();
    let permanent = [
        ProcessError::from(NotificationError::ForeignKey("k".to_owned())),
        ProcessError::from(MediaError::WrongProduct {
            image_id: id.clone(),
            recorded: sku("A"),
            claimed: sku("B"),
        }),
        ProcessError::from(MediaError::Store(StoreError::Malformed {
            key: "k".to_owned(),
            problem: "full".to_owned(),
        })),
    ];
    for err in permanent {
        assert!(matches!(err, ProcessError::Malformed(_)), "{err}");
    }
    let transient = [
        ProcessError::from(MediaError::NotReady(id)),
        ProcessError::from(MediaError::Encode(ThumbnailError::Encode("x".to_owned()))),
        ProcessError::from(MediaError::Store(StoreError::Backend {
            operation: "GetObject media",
            message: "503".to_owned(),
        })),
    ];
    for err in transient {
        assert!(matches!(err, ProcessError::Failed(_)), "{err}");
    }
}

// ---- the product's images with URLs ----

#[tokio::test]
async fn the_product_shows_its_images_with_presigned_thumbnail_urls() {
    let world = World::new();
    let (keys, upload) = world.upload(png(300, 150));
    assert_acked(&world.checker(), &upload).await;
    assert!(run(&world.thumbnailer(), &[upload]).await.is_empty());
    assert!(
        run(&world.catalog(), &world.thumbnail_events(&keys))
            .await
            .is_empty()
    );
    let signer = FakeDownloadSigner::new(Clock::manual(START));
    let views = product_image_views(
        &world.products,
        &signer,
        &sku(SKU),
        Duration::from_secs(900),
    )
    .await
    .unwrap();
    assert_eq!(views.len(), 1);
    let json = serde_json::to_value(&views[0]).unwrap();
    assert_eq!(json["imageId"], keys.image_id.as_str());
    assert_eq!(json["format"], "PNG");
    assert_eq!(json["urlsExpireAt"], rfc3339(START + 900));
    assert_eq!(json["thumbnails"][0]["sizePx"], 128);
    assert_eq!(json["thumbnails"][0]["width"], 128);
    assert_eq!(json["thumbnails"][0]["height"], 64);
    assert_eq!(
        json["thumbnails"][1]["url"],
        format!(
            "{}{}?X-Amz-Expires=900",
            FakeDownloadSigner::BASE_URL,
            keys.thumbnail_key(512)
        )
    );
    assert!(
        product_image_views(
            &world.products,
            &signer,
            &sku("NONE"),
            Duration::from_secs(1)
        )
        .await
        .unwrap()
        .is_empty()
    );
}

// ---- settings ----

const CONSUMER_ENV: &[(&str, &str)] = &[
    ("MEDIA_BUCKET", "media"),
    ("MEDIA_TABLE", "media-table"),
    ("PRODUCTS_TABLE", "products"),
    ("IDEMPOTENCY_TABLE", "idem"),
];

#[test]
fn consumer_settings_read_every_variable_with_defaults() {
    let idempotency = IdempotencyConfig {
        table: "idem".to_owned(),
        in_progress_seconds: 60,
    };
    assert_eq!(
        settings_from(CONSUMER_ENV),
        Ok(ImageCheckerSettings {
            media_bucket: "media".to_owned(),
            media_table: "media-table".to_owned(),
            limits: MediaLimits::default(),
            idempotency: idempotency.clone(),
        })
    );
    let env = [CONSUMER_ENV, &[("IMAGE_MAX_PIXELS", "1000")]].concat();
    assert_eq!(
        settings_from::<ThumbnailerSettings>(&env).map(|s| s.limits.max_pixels),
        Ok(1000)
    );
    assert_eq!(
        settings_from(CONSUMER_ENV),
        Ok(CatalogImagesSettings {
            media_bucket: "media".to_owned(),
            media_table: "media-table".to_owned(),
            products_table: "products".to_owned(),
            idempotency,
        })
    );
    let required = ["MEDIA_BUCKET", "MEDIA_TABLE", "IDEMPOTENCY_TABLE"];
    assert_each_required::<ImageCheckerSettings>(CONSUMER_ENV, &required);
    assert_each_required::<ThumbnailerSettings>(CONSUMER_ENV, &required);
    assert_each_required::<CatalogImagesSettings>(
        CONSUMER_ENV,
        &[
            "MEDIA_BUCKET",
            "MEDIA_TABLE",
            "PRODUCTS_TABLE",
            "IDEMPOTENCY_TABLE",
        ],
    );
    assert_invalid::<ThumbnailerSettings>(CONSUMER_ENV, "IMAGE_MAX_BYTES", "0");
    assert_invalid::<ImageCheckerSettings>(CONSUMER_ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "x");
}

const API_ENV: &[(&str, &str)] = &[
    ("PRODUCTS_TABLE", "products"),
    ("SESSIONS_TABLE", "sessions"),
    ("USERS_TABLE", "users"),
    ("MEDIA_TABLE", "media-table"),
    ("MEDIA_BUCKET", "media"),
];

#[test]
fn api_settings_read_every_variable_with_defaults() {
    assert_eq!(
        settings_from(API_ENV),
        Ok(ImagesApiSettings {
            products_table: "products".to_owned(),
            sessions_table: "sessions".to_owned(),
            users_table: "users".to_owned(),
            media_table: "media-table".to_owned(),
            media_bucket: "media".to_owned(),
            limits: MediaLimits::default(),
            upload_url_seconds: 300,
        })
    );
    assert_each_required::<ImagesApiSettings>(
        API_ENV,
        &[
            "PRODUCTS_TABLE",
            "SESSIONS_TABLE",
            "USERS_TABLE",
            "MEDIA_TABLE",
            "MEDIA_BUCKET",
        ],
    );
    for bad in ["59", "3601", "soon"] {
        assert_invalid::<ImagesApiSettings>(API_ENV, "UPLOAD_URL_SECONDS", bad);
    }
    assert!(matches!(
        settings_from::<ImagesApiSettings>(&[API_ENV, &[("IMAGE_MAX_BYTES", "x")]].concat()),
        Err(ConfigError::Invalid {
            name: "IMAGE_MAX_BYTES",
            ..
        })
    ));
}

// ---- images-api ----

type Api = api::ImagesApi<
    InMemoryProductStore,
    Products,
    Records,
    Bucket,
    FakeUploadSigner,
    InMemorySessionStore,
    InMemoryUserStore,
>;

fn api_on(world: &World) -> Api {
    let clock = Clock::manual(START);
    ImagesApi::new(
        InMemoryProductStore::with_products([product(SKU, 1_200, 5), product("FULL-1", 100, 1)]),
        world.products.clone(),
        world.records.clone(),
        world.bucket(),
        FakeUploadSigner::new(clock.clone()),
        InMemorySessionStore::default(),
        InMemoryUserStore::default(),
    )
    .with_limits(world.limits)
    .with_clock(clock)
}

/// Signs in `user_id`, whose account has `role` (`session_role` in the session, which the
/// API must not trust).
async fn token(api: &Api, user_id: &str, role: &str, session_role: &str) -> String {
    use crate::auth::UserStore as _;
    api.users()
        .put_user(&User {
            user_id: user_id.to_owned(),
            email: format!("{user_id}@example.com"),
            password_hash: "not used here".to_owned(),
            role: role.to_owned(),
            created_at: START,
        })
        .await
        .unwrap();
    crate::orders::tests::sign_in(api.sessions(), Some((user_id, session_role)), START).await
}

async fn call(api: &Api, method: &str, path: &str, token: &str, body: &str) -> Response<Body> {
    let mut req = request(method, path, Some(token), body);
    if !body.is_empty() {
        req.headers_mut().insert(
            "content-type",
            lambda_http::http::HeaderValue::from_static("application/json"),
        );
    }
    api.handle(req).await
}

fn code(response: &Response<Body>) -> String {
    body_json(response)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn message(response: &Response<Body>) -> String {
    body_json(response)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_admin_gets_an_upload_url_bound_to_type_and_length() {
    let world = World::new();
    let api = api_on(&world);
    let admin = token(&api, "ada", ROLE_ADMIN, ROLE_ADMIN).await;
    let path = format!("/products/{SKU}/images");
    let response = call(
        &api,
        "POST",
        &path,
        &admin,
        r#"{"contentType": "IMAGE/PNG; charset=binary", "contentLength": 4096}"#,
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        body_json(&response)
    );
    let body = body_json(&response);
    let image_id = ImageId::parse(body["imageId"].as_str().unwrap()).unwrap();
    let keys = ImageKeys::new(sku(SKU), image_id);
    assert_eq!(
        body["uploadUrl"],
        format!(
            "{}{}?X-Amz-Expires=300",
            FakeUploadSigner::BASE_URL,
            keys.upload_key()
        )
    );
    assert_eq!(body["expiresAt"], rfc3339(START + 300));
    assert_eq!(body["maxBytes"], MediaLimits::default().max_bytes);
    assert_eq!(
        body["requiredHeaders"],
        serde_json::json!({"content-type": "image/png", "content-length": "4096"})
    );
    assert_eq!(
        api.signer().signed(),
        vec![(keys.upload_key(), "image/png".to_owned(), 4096)]
    );
    // Nothing written before the bytes exist.
    assert!(world.objects.keys().is_empty());
    assert_eq!(world.record(&keys).await, None);
}

#[tokio::test]
async fn only_an_admin_now_may_manage_images() {
    let world = World::new();
    let api = api_on(&world);
    let body = r#"{"contentType": "image/png", "contentLength": 10}"#;
    let path = format!("/products/{SKU}/images");
    let customer = token(&api, "cy", ROLE_CUSTOMER, ROLE_CUSTOMER).await;
    // Demoted since login: the session still says admin.
    let demoted = token(&api, "dee", ROLE_CUSTOMER, ROLE_ADMIN).await;
    for who in [&customer, &demoted] {
        let response = call(&api, "POST", &path, who, body).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(code(&response), "FORBIDDEN");
        let response = call(
            &api,
            "DELETE",
            &format!("{path}/{}", ImageId::generate()),
            who,
            "",
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let response = api.handle(request("POST", &path, None, body)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(api.signer().signed().is_empty());
}

#[tokio::test]
async fn bad_uploads_are_400_naming_the_field() {
    let world = World::new();
    let api = api_on(&world);
    let admin = token(&api, "ada", ROLE_ADMIN, ROLE_ADMIN).await;
    let path = format!("/products/{SKU}/images");
    let max = MediaLimits::default().max_bytes;
    let too_long = format!(
        r#"{{"contentType": "image/jpeg", "contentLength": {}}}"#,
        max + 1
    );
    for (body, field) in [
        (
            r#"{"contentType": "image/gif", "contentLength": 10}"#,
            "contentType",
        ),
        (
            r#"{"contentType": "text/plain", "contentLength": 10}"#,
            "contentType",
        ),
        (r#"{"contentType": 5, "contentLength": 10}"#, "contentType"),
        (too_long.as_str(), "contentLength"),
        (
            r#"{"contentType": "image/webp", "contentLength": 0}"#,
            "contentLength",
        ),
        (
            r#"{"contentType": "image/webp", "contentLength": -1}"#,
            "contentLength",
        ),
        (
            r#"{"contentType": "image/webp", "contentLength": 1.5}"#,
            "contentLength",
        ),
        (
            r#"{"contentType": "image/webp", "contentLength": "10"}"#,
            "contentLength",
        ),
        (r#"{"contentType": "image/webp"}"#, "contentLength"),
    ] {
        let response = call(&api, "POST", &path, &admin, body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&response), "INVALID_REQUEST", "{body}");
        assert!(
            message(&response).contains(field),
            "{body}: {}",
            message(&response)
        );
    }
    let response = call(&api, "POST", &path, &admin, &too_long).await;
    assert!(
        message(&response).contains(&max.to_string()),
        "names the limit"
    );
    let response = call(&api, "POST", &path, &admin, "{").await;
    assert_eq!(code(&response), "INVALID_JSON");
    assert!(api.signer().signed().is_empty());
}

#[tokio::test]
async fn an_unknown_or_full_product_takes_no_upload() {
    let world = World::new();
    let api = api_on(&world);
    let admin = token(&api, "ada", ROLE_ADMIN, ROLE_ADMIN).await;
    let body = r#"{"contentType": "image/png", "contentLength": 10}"#;
    let response = call(&api, "POST", "/products/NOPE-1/images", &admin, body).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(&response), "PRODUCT_NOT_FOUND");
    let response = call(&api, "POST", "/products/not-a-sku/images", &admin, body).await;
    assert_eq!(code(&response), "INVALID_SKU");
    // A product with as many images as it may hold.
    let full = sku("FULL-1");
    world.products.0.add_product(&full);
    for _ in 0..MAX_IMAGES_PER_PRODUCT {
        let image = ProductImage {
            image_id: ImageId::generate(),
            format: ImageFormat::Png,
            width: 1,
            height: 1,
            thumbnails: Vec::new(),
        };
        // The store is guarded: each image needs its record.
        let keys = ImageKeys::new(full.clone(), image.image_id.clone());
        let verdict = ImageVerdict::Accepted {
            format: ImageFormat::Png,
            width: 1,
            height: 1,
            bytes: 100,
        };
        world.records.record_verdict(&keys, &verdict).await.unwrap();
        assert_eq!(
            world.products.add(&full, &image).await.unwrap(),
            ImageAdded::Added
        );
    }
    let response = call(&api, "POST", "/products/FULL-1/images", &admin, body).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(code(&response), "TOO_MANY_IMAGES");
    assert!(api.signer().signed().is_empty());
    // GET is not a route of this function.
    let response = call(&api, "GET", &format!("/products/{SKU}/images"), &admin, "").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn delete_removes_the_product_entry_the_objects_and_the_record() {
    let world = World::new();
    let (keys, upload) = world.upload(png(200, 100));
    let (_, other_upload) = world.upload(png(20, 10));
    for body in [&upload, &other_upload] {
        assert_acked(&world.checker(), body).await;
        assert_acked(&world.thumbnailer(), body).await;
    }
    let events: Vec<String> = world
        .objects
        .keys()
        .iter()
        .filter(|k| k.starts_with("thumbnails/"))
        .map(|k| {
            let (bytes, _) = world.objects.object(k).unwrap();
            created(k, bytes.len(), &etag(&bytes)).to_string()
        })
        .collect();
    assert!(run(&world.catalog(), &events).await.is_empty());
    assert_eq!(world.shown().await.len(), 2);
    assert_eq!(world.objects.keys().len(), 6);

    let api = api_on(&world);
    let admin = token(&api, "ada", ROLE_ADMIN, ROLE_ADMIN).await;
    let path = format!("/products/{SKU}/images/{}", keys.image_id);
    // Not an image of another product.
    let response = call(
        &api,
        "DELETE",
        &format!("/products/FULL-1/images/{}", keys.image_id),
        &admin,
        "",
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(&response), "IMAGE_NOT_FOUND");
    assert_eq!(world.objects.keys().len(), 6);

    let response = call(&api, "DELETE", &path, &admin, "").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.body().is_empty());
    assert_eq!(world.record(&keys).await, None);
    assert!(
        world
            .objects
            .keys()
            .iter()
            .all(|k| !k.contains(keys.image_id.as_str()))
    );
    assert_eq!(
        world.objects.keys().len(),
        3,
        "the other image is untouched"
    );
    let shown = world.shown().await;
    assert_eq!(shown.len(), 1);
    assert_ne!(shown[0].image_id, keys.image_id);

    // Gone now; a malformed id never was.
    for path in [path, format!("/products/{SKU}/images/img_nope")] {
        let response = call(&api, "DELETE", &path, &admin, "").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(code(&response), "IMAGE_NOT_FOUND", "{path}");
    }
}

#[tokio::test]
async fn delete_of_an_upload_not_yet_processed_removes_it() {
    let world = World::new();
    let (keys, upload) = world.upload(png(20, 20));
    let api = api_on(&world);
    let admin = token(&api, "ada", ROLE_ADMIN, ROLE_ADMIN).await;
    let response = call(
        &api,
        "DELETE",
        &format!("/products/{SKU}/images/{}", keys.image_id),
        &admin,
        "",
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(world.objects.keys().is_empty());
    // Its events arrive after the delete: nothing is made again.
    assert_acked(&world.checker(), &upload).await;
    assert!(run(&world.thumbnailer(), &[upload]).await.is_empty());
    assert_eq!(world.record(&keys).await, None);
}
