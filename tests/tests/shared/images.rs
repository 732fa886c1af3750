//! Product images end to end (issue 16): an admin's upload through the presigned PUT, the
//! bucket's notifications through the media topic to image-checker, thumbnailer and
//! catalog-images, the product showing the image with presigned thumbnail URLs; hostile uploads
//! rejected with their reason and nothing else changed; a notification delivered twice; one
//! consumer failing while the others go on; and a delete that removes everything.
//!
//! The local stack's `IMAGE_MAX_BYTES` is 2 MiB (`infra/samconfig.toml`), exported as the
//! output `ImageMaxBytes`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use shop_core::media::samples;
use shop_tests::media::{MediaCapture, thumbnails_of, verdict_of, wait_processed};
use shop_tests::{Stack, eventually, now_epoch_millis, unique_id, unique_sku};

const CONSUMERS: [&str; 3] = ["image-checker", "thumbnailer", "catalog-images"];
const PROCESSING: Duration = Duration::from_secs(120);
/// GET /products/{sku} may come from the stage cache (CatalogCacheTtlSeconds, 60 s by default).
const CATALOG: Duration = Duration::from_secs(150);
const LOGS_CATCH_UP: Duration = Duration::from_secs(90);

/// A real PNG of `width` x `height` (an RGB gradient).
fn png(width: u32, height: u32) -> Vec<u8> {
    samples::png(width, height).expect("encode a PNG")
}

/// A real JPEG of `width` x `height`.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    samples::jpeg(width, height).expect("encode a JPEG")
}

/// A fresh image id the API never issued (`img_` + 32 hex digits).
fn unissued_image_id() -> String {
    format!("img_{}", unique_id().replace('-', ""))
}

/// The product as GET /products/{sku} shows it once it lists `count` images.
async fn product_with_images(stack: &Stack, sku: &str, count: usize) -> Value {
    eventually(
        &format!("GET /products/{sku} lists {count} image(s)"),
        CATALOG,
        || async {
            let response = stack.get(&format!("/products/{sku}"), None).await;
            let shown = response.body["images"].as_array().map(Vec::len);
            (response.status == StatusCode::OK && shown == Some(count)).then_some(response.body)
        },
    )
    .await
}

/// The record of `image_id` once it has a verdict and, when accepted, its thumbnails' mark.
async fn settled_record(
    stack: &Stack,
    image_id: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    eventually(
        &format!("the record of {image_id} settled"),
        PROCESSING,
        || async {
            let record = stack.image_record(image_id).await?;
            match verdict_of(&record)?.as_str() {
                "ACCEPTED" => (thumbnails_of(&record).len() == 2).then_some(record),
                _ => Some(record),
            }
        },
    )
    .await
}

#[tokio::test]
async fn an_admin_uploads_a_png_and_a_jpeg_and_the_product_shows_their_thumbnails() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1500, 5).await;
    let admin = stack.admin_token().await;
    let mut capture = MediaCapture::open(&stack).await;

    let png_id = stack
        .upload_image(&admin, &sku, "image/png", png(1200, 800))
        .await;
    let jpeg_id = stack
        .upload_image(&admin, &sku, "image/jpeg", jpeg(640, 480))
        .await;

    for (image_id, format) in [(&png_id, "PNG"), (&jpeg_id, "JPEG")] {
        let prefix = format!("thumbnails/{sku}/{image_id}/");
        let keys = eventually(
            &format!("both thumbnails of the {format}"),
            PROCESSING,
            || async {
                let keys = stack.media_keys(&prefix).await;
                (keys.len() == 2).then_some(keys)
            },
        )
        .await;
        assert_eq!(
            keys,
            [format!("{prefix}128.jpg"), format!("{prefix}512.jpg")]
        );
        let record = settled_record(&stack, image_id).await;
        assert_eq!(
            verdict_of(&record).as_deref(),
            Some("ACCEPTED"),
            "{record:?}"
        );
        assert_eq!(thumbnails_of(&record), [128, 512]);
    }

    let product = product_with_images(&stack, &sku, 2).await;
    let images = product["images"].as_array().unwrap();
    let view = |id: &str| {
        images
            .iter()
            .find(|image| image["imageId"] == id)
            .unwrap_or_else(|| panic!("{id} on the product: {product}"))
            .clone()
    };
    let png_view = view(&png_id);
    assert_eq!(png_view["format"], "PNG");
    assert_eq!(
        (png_view["width"].as_u64(), png_view["height"].as_u64()),
        (Some(1200), Some(800))
    );
    let thumbnails = png_view["thumbnails"].as_array().unwrap();
    let sizes: Vec<(u64, u64, u64)> = thumbnails
        .iter()
        .map(|t| {
            (
                t["sizePx"].as_u64().unwrap(),
                t["width"].as_u64().unwrap(),
                t["height"].as_u64().unwrap(),
            )
        })
        .collect();
    // Landscape: the width is the size asked for, the height in proportion.
    assert_eq!(sizes, [(128, 128, 85), (512, 512, 341)], "{png_view}");
    assert_eq!(view(&jpeg_id)["format"], "JPEG");
    assert!(png_view["urlsExpireAt"].is_string(), "{png_view}");
    // The presigned URL serves the thumbnail itself.
    for thumbnail in thumbnails {
        let url = thumbnail["url"].as_str().unwrap();
        let (status, bytes) = stack.fetch(url).await;
        assert_eq!(status, StatusCode::OK, "GET {url}");
        assert_eq!(
            bytes.get(..3),
            Some(&[0xFF, 0xD8, 0xFF][..]),
            "a JPEG at {url}"
        );
    }
    // The list of products shows no images (only GET /products/{sku} signs URLs).

    // The PNG's upload notification, delivered again, changes nothing.
    let upload_key = format!("uploads/{sku}/{png_id}");
    let notification = capture.notification(&stack, &upload_key, PROCESSING).await;
    capture.close(&stack).await;
    let event_id = shop_core::media::envelope_of(&notification, "captured").event_id;
    assert!(event_id.contains(&upload_key), "{event_id}");
    wait_processed(&stack, &CONSUMERS, &event_id, PROCESSING).await;
    let record_before = stack.image_record(&png_id).await;
    let product_before = stack.product_item(&sku).await;
    let thumbnail_prefix = format!("thumbnails/{sku}/{png_id}/");
    let versions_before = stack.media_versions(&thumbnail_prefix).await;
    let since = now_epoch_millis() - 1_000;
    stack.publish_media_notification(&notification).await;
    let stack_name = stack.output("StackName").to_owned();
    for consumer in CONSUMERS {
        eventually(
            &format!("{consumer} acknowledged the second delivery as a duplicate"),
            LOGS_CATCH_UP,
            || async {
                stack
                    .log_lines(
                        &format!("{stack_name}-{consumer}"),
                        "duplicate delivery",
                        since,
                    )
                    .await
                    .into_iter()
                    .find(|line| line.fields["event_id"] == event_id.as_str())
            },
        )
        .await;
    }
    assert_eq!(stack.image_record(&png_id).await, record_before);
    assert_eq!(stack.product_item(&sku).await, product_before);
    assert_eq!(
        stack.media_versions(&thumbnail_prefix).await,
        versions_before,
        "no thumbnail written again"
    );
}

#[tokio::test]
async fn only_an_admin_adds_or_deletes_images_and_bad_requests_name_the_field() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 900, 1).await;
    let (_, customer) = stack.new_user("images-customer", "a-long-password").await;
    let anonymous = stack.new_session().await;
    let image_path = format!("/products/{sku}/images/{}", unissued_image_id());
    for token in [&customer, &anonymous] {
        stack
            .request_upload(token, &sku, "image/png", 100)
            .await
            .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
        stack
            .call(Method::DELETE, &image_path, Some(token), None)
            .await
            .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    stack
        .call(
            Method::POST,
            &format!("/products/{sku}/images"),
            None,
            Some(r#"{"contentType": "image/png", "contentLength": 100}"#.to_owned()),
        )
        .await
        .expect_status(StatusCode::UNAUTHORIZED);

    let admin = stack.admin_token().await;
    let max_bytes = stack.tunable("ImageMaxBytes", 10 * 1024 * 1024);
    for (content_type, length, field) in [
        ("image/gif", 100, "contentType"),
        ("text/plain", 100, "contentType"),
        ("image/png", 0, "contentLength"),
        ("image/png", max_bytes + 1, "contentLength"),
    ] {
        let response = stack
            .request_upload(&admin, &sku, content_type, length)
            .await;
        response.expect_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        let message = response.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains(field),
            "{content_type} {length}: {}",
            response.body
        );
    }
    stack
        .request_upload(&admin, &unique_sku(2), "image/png", 100)
        .await
        .expect_error(StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND");
    let ticket = stack.upload_ticket(&admin, &sku, "image/png", 100).await;
    assert_eq!(ticket.max_bytes, max_bytes);
    // A ticket writes nothing: the image exists once its bytes do.
    assert!(stack.image_record(&ticket.image_id).await.is_none());
    stack
        .call(Method::DELETE, &image_path, Some(&admin), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "IMAGE_NOT_FOUND");
}

#[tokio::test]
async fn hostile_uploads_are_rejected_with_their_reason_and_change_nothing() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 2500, 3).await;
    let product_before = stack.product_item(&sku).await.expect("the product");
    let admin = stack.admin_token().await;
    let max_bytes = stack.tunable("ImageMaxBytes", 10 * 1024 * 1024);
    let mut capture = MediaCapture::open(&stack).await;

    // Text named .png, declared as a PNG.
    let text_id = stack
        .upload_image(
            &admin,
            &sku,
            "image/png",
            b"this is not an image, only text named .png\n".repeat(40),
        )
        .await;
    // A PNG header declaring 100,000 x 100,000 pixels in a few dozen bytes.
    let bomb_id = stack
        .upload_image(
            &admin,
            &sku,
            "image/png",
            samples::png_bomb(100_000, 100_000),
        )
        .await;
    // One byte over the limit: the API signs no such upload, so it is written with the SDK.
    let oversize = max_bytes + 1;
    stack
        .request_upload(&admin, &sku, "image/png", oversize)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let large_id = unissued_image_id();
    let mut large = png(16, 16);
    large.resize(usize::try_from(oversize).unwrap(), 0);
    stack
        .put_media_object(&format!("uploads/{sku}/{large_id}"), large, "image/png")
        .await;

    for (image_id, reason) in [
        (&text_id, "NOT_AN_IMAGE"),
        (&bomb_id, "TOO_MANY_PIXELS"),
        (&large_id, "TOO_LARGE"),
    ] {
        let record = settled_record(&stack, image_id).await;
        assert_eq!(verdict_of(&record).as_deref(), Some(reason), "{record:?}");
        assert!(thumbnails_of(&record).is_empty(), "{record:?}");
        // Nothing crashed: every consumer finished with the upload's notification (a record
        // that failed would be retried, then moved to its DLQ, never marked processed).
        let key = format!("uploads/{sku}/{image_id}");
        let notification = capture.notification(&stack, &key, PROCESSING).await;
        let event_id = shop_core::media::envelope_of(&notification, "captured").event_id;
        wait_processed(&stack, &CONSUMERS, &event_id, PROCESSING).await;
    }
    capture.close(&stack).await;

    assert!(
        stack
            .media_keys(&format!("thumbnails/{sku}/"))
            .await
            .is_empty()
    );
    for dlq in [
        "ImageCheckerDlqUrl",
        "ThumbnailerDlqUrl",
        "CatalogImagesDlqUrl",
    ] {
        let url = stack.output(dlq).to_owned();
        assert!(
            !stack.holds(&url, &sku).await,
            "{dlq} holds a notification of {sku}"
        );
    }
    assert_eq!(stack.product_item(&sku).await, Some(product_before));
    let product = stack.get(&format!("/products/{sku}"), None).await;
    product.expect_status(StatusCode::OK);
    assert_eq!(
        product.body["images"],
        serde_json::json!([]),
        "{}",
        product.body
    );
}

#[tokio::test]
async fn a_consumer_failing_a_record_does_not_hold_back_the_others() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 700, 2).await;
    let admin = stack.admin_token().await;

    // A record catalog-images can never process, in its queue alone: it fails on every
    // receive until the queue moves it to the DLQ (5 receives).
    let marker = format!("poison-{}", unique_id());
    let poison = serde_json::json!({"not": "an S3 notification", "marker": marker}).to_string();
    let queue = stack.output("CatalogImagesQueueUrl").to_owned();
    stack
        .sqs()
        .send_message()
        .queue_url(&queue)
        .message_body(&poison)
        .send()
        .await
        .expect("send a malformed record to the catalog-images queue");

    let image_id = stack
        .upload_image(&admin, &sku, "image/png", png(300, 200))
        .await;
    // image-checker and thumbnailer, on queues of their own, go on...
    let record = settled_record(&stack, &image_id).await;
    assert_eq!(verdict_of(&record).as_deref(), Some("ACCEPTED"));
    assert_eq!(thumbnails_of(&record), [128, 512]);
    // ...and catalog-images fails only the poison: the image is published.
    let product = product_with_images(&stack, &sku, 1).await;
    assert_eq!(product["images"][0]["imageId"], image_id.as_str());

    // maxReceiveCount 5 x the local 12 s visibility timeout.
    let dlq = stack.output("CatalogImagesDlqUrl").to_owned();
    eventually(
        "the poison in the catalog-images DLQ",
        Duration::from_secs(180),
        || async { stack.holds(&dlq, &marker).await.then_some(()) },
    )
    .await;
    for other in ["ImageCheckerDlqUrl", "ThumbnailerDlqUrl"] {
        let url = stack.output(other).to_owned();
        assert!(
            !stack.holds(&url, &marker).await,
            "{other} holds the poison"
        );
    }
    // Leave the DLQ as it was.
    let removed = stack.take_from_queue(&dlq, &marker).await;
    assert_eq!(removed, 1);
}

#[tokio::test]
async fn deleting_an_image_removes_it_and_a_late_upload_does_not_bring_it_back() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1200, 4).await;
    let admin = stack.admin_token().await;
    let image_id = stack
        .upload_image(&admin, &sku, "image/jpeg", jpeg(800, 600))
        .await;
    product_with_images(&stack, &sku, 1).await;
    let thumbnails = format!("thumbnails/{sku}/{image_id}/");
    let upload = format!("uploads/{sku}/{image_id}");
    assert_eq!(stack.media_keys(&thumbnails).await.len(), 2);

    let path = format!("/products/{sku}/images/{image_id}");
    stack
        .call(Method::DELETE, &path, Some(&admin), None)
        .await
        .expect_status(StatusCode::NO_CONTENT);

    // The record is a tombstone: no verdict or thumbnails, an expiry (TTL).
    let tombstone = stack.image_record(&image_id).await.expect("a tombstone");
    assert!(
        tombstone.contains_key("deleted_at")
            && tombstone.contains_key("expires_at")
            && !tombstone.contains_key("verdict")
            && !tombstone.contains_key("thumbnails"),
        "{tombstone:?}"
    );
    assert!(stack.media_keys(&upload).await.is_empty());
    assert!(stack.media_keys(&thumbnails).await.is_empty());
    let item = stack.product_item(&sku).await.expect("the product");
    let on_product = match item.get("images") {
        Some(aws_sdk_dynamodb::types::AttributeValue::M(images)) => images.contains_key(&image_id),
        _ => false,
    };
    assert!(!on_product, "{item:?}");
    product_with_images(&stack, &sku, 0).await;
    // Nothing is left to delete.
    stack
        .call(Method::DELETE, &path, Some(&admin), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "IMAGE_NOT_FOUND");

    // The same bytes PUT again after the DELETE (the upload URL is still valid; or a
    // consumer that read the upload just before the DELETE): both consumers process it and
    // the tombstone refuses their writes, so nothing is made and nothing is shown again.
    stack
        .put_media_object(&upload, jpeg(800, 600), "image/jpeg")
        .await;
    for consumer in ["image-checker", "thumbnailer"] {
        eventually(
            &format!("{consumer} processed the late upload"),
            Duration::from_secs(60),
            || async { (stack.media_events_processed(consumer, &upload).await >= 2).then_some(()) },
        )
        .await;
    }
    assert!(stack.media_keys(&thumbnails).await.is_empty());
    let record = stack.image_record(&image_id).await.expect("the tombstone");
    assert!(!record.contains_key("verdict"), "{record:?}");
    product_with_images(&stack, &sku, 0).await;
}
