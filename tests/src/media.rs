//! Product images: uploads through the API's presigned PUT ([`Stack::request_upload`],
//! [`Stack::upload_image`]), the media bucket ([`Stack::media_keys`],
//! [`Stack::media_versions`], [`Stack::put_media_object`]), the image records of the media
//! table ([`Stack::image_record`], [`verdict_of`]), and [`MediaCapture`]: a queue of the
//! test's own on the media topic, which keeps the bucket's notifications for the test to read
//! and publish again.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{ApiResponse, Stack, eventually, unique_id};

/// What `POST /products/{sku}/images` handed out (201).
#[derive(Debug, Clone)]
pub struct UploadTicket {
    pub image_id: String,
    pub upload_url: String,
    /// `requiredHeaders`: the PUT must carry exactly these (lowercase names).
    pub required_headers: Vec<(String, String)>,
    pub max_bytes: u64,
}

/// The verdict on an image record: `ACCEPTED`, or the rejection's reason (`NOT_AN_IMAGE`,
/// `TOO_LARGE`, `TOO_MANY_PIXELS`…); `None` before the checker (or the thumbnailer) judged it.
pub fn verdict_of(record: &HashMap<String, AttributeValue>) -> Option<String> {
    let AttributeValue::M(verdict) = record.get("verdict")? else {
        return None;
    };
    let text = |name: &str| match verdict.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    match text("verdict")?.as_str() {
        "REJECTED" => text("reason"),
        other => Some(other.to_owned()),
    }
}

/// The sizes (`size_px`) of the thumbnails marked on an image record, smallest first (empty
/// before the mark).
pub fn thumbnails_of(record: &HashMap<String, AttributeValue>) -> Vec<i64> {
    let Some(AttributeValue::L(list)) = record.get("thumbnails") else {
        return Vec::new();
    };
    let mut sizes: Vec<i64> = list
        .iter()
        .filter_map(|t| match t {
            AttributeValue::M(map) => Some(crate::number(map, "size_px")),
            _ => None,
        })
        .collect();
    sizes.sort_unstable();
    sizes
}

impl Stack {
    /// `POST /products/{sku}/images` with `{"contentType", "contentLength"}`.
    pub async fn request_upload(
        &self,
        token: &str,
        sku: &str,
        content_type: &str,
        content_length: u64,
    ) -> ApiResponse {
        let body = json!({"contentType": content_type, "contentLength": content_length});
        self.call(
            Method::POST,
            &format!("/products/{sku}/images"),
            Some(token),
            Some(body.to_string()),
        )
        .await
    }

    /// An upload ticket for `content_length` bytes of `content_type` (asserts the 201).
    pub async fn upload_ticket(
        &self,
        token: &str,
        sku: &str,
        content_type: &str,
        content_length: u64,
    ) -> UploadTicket {
        let response = self
            .request_upload(token, sku, content_type, content_length)
            .await;
        response.expect_status(StatusCode::CREATED);
        let body = &response.body;
        let text = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in the upload ticket: {body}"))
                .to_owned()
        };
        UploadTicket {
            image_id: text("imageId"),
            upload_url: text("uploadUrl"),
            required_headers: body["requiredHeaders"]
                .as_object()
                .unwrap_or_else(|| panic!("requiredHeaders in the upload ticket: {body}"))
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect(),
            max_bytes: body["maxBytes"].as_u64().expect("maxBytes"),
        }
    }

    /// PUTs `bytes` to the ticket's presigned URL with the headers it was signed with, over the
    /// client of [`crate::http`] (LocalStack's CA only, when the URL is HTTPS); the status.
    pub async fn put_upload(&self, ticket: &UploadTicket, bytes: Vec<u8>) -> StatusCode {
        let mut request = self.http().request(Method::PUT, &ticket.upload_url);
        for (name, value) in &ticket.required_headers {
            if name == "content-length" {
                // reqwest sends the body's length; the ticket must have been asked for it.
                assert_eq!(
                    value,
                    &bytes.len().to_string(),
                    "the upload's length is the signed one"
                );
                continue;
            }
            request = request.header(name.as_str(), value.as_str());
        }
        request
            .body(bytes)
            .send()
            .await
            .expect("PUT to the presigned upload URL")
            .status()
    }

    /// Uploads `bytes` as an image of `sku` the way a client does (a ticket, then the PUT);
    /// the new image's id.
    pub async fn upload_image(
        &self,
        token: &str,
        sku: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> String {
        let length = u64::try_from(bytes.len()).expect("a length");
        let ticket = self.upload_ticket(token, sku, content_type, length).await;
        let status = self.put_upload(&ticket, bytes).await;
        assert!(status.is_success(), "the presigned PUT answered {status}");
        ticket.image_id
    }

    /// The image's record in the media table (`pk = IMAGE#<imageId>`), read consistently.
    pub async fn image_record(&self, image_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb()
            .get_item()
            .table_name(self.output("MediaTableName"))
            .key("pk", AttributeValue::S(format!("IMAGE#{image_id}")))
            .consistent_read(true)
            .send()
            .await
            .expect("get an image record")
            .item
    }

    /// How many S3 notifications of the object `key` the media consumer `consumer` has
    /// finished (its idempotency records: one per object version, keyed
    /// `<consumer>#<bucket>/<key>/<eTag>[/<versionId>]`).
    pub async fn media_events_processed(&self, consumer: &str, key: &str) -> usize {
        let prefix = format!("{consumer}#{}/{key}/", self.output("MediaBucketName"));
        let items: Vec<_> = self
            .dynamodb()
            .scan()
            .table_name(self.output("IdempotencyTableName"))
            .filter_expression("begins_with(pk, :prefix) AND #status = :done")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":prefix", AttributeValue::S(prefix))
            .expression_attribute_values(":done", AttributeValue::S("DONE".to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("scan the idempotency table");
        items.len()
    }

    /// The product's item in the products table, read consistently.
    pub async fn product_item(&self, sku: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb()
            .get_item()
            .table_name(self.output("ProductsTableName"))
            .key("sku", AttributeValue::S(sku.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a product item")
            .item
    }

    /// The keys of the media bucket under `prefix` (current objects), in key order.
    pub async fn media_keys(&self, prefix: &str) -> Vec<String> {
        let pages: Vec<_> = self
            .s3()
            .list_objects_v2()
            .bucket(self.output("MediaBucketName"))
            .prefix(prefix)
            .into_paginator()
            .send()
            .collect()
            .await;
        let mut keys: Vec<String> = pages
            .into_iter()
            .map(|page| page.expect("list the media bucket"))
            .flat_map(|page| page.contents.unwrap_or_default())
            .filter_map(|object| object.key)
            .collect();
        keys.sort();
        keys
    }

    /// How many versions of objects the media bucket holds under `prefix` (the bucket is
    /// versioned: writing an object again adds one).
    pub async fn media_versions(&self, prefix: &str) -> usize {
        let output = self
            .s3()
            .list_object_versions()
            .bucket(self.output("MediaBucketName"))
            .prefix(prefix)
            .send()
            .await
            .expect("list the media bucket's versions");
        output.versions().len()
    }

    /// Writes an object straight into the media bucket with the SDK (what no client of the API
    /// can do: e.g. an upload larger than any URL the API signs).
    pub async fn put_media_object(&self, key: &str, bytes: Vec<u8>, content_type: &str) {
        self.s3()
            .put_object()
            .bucket(self.output("MediaBucketName"))
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .expect("put an object into the media bucket");
    }

    /// GETs a URL the API handed out (a presigned thumbnail URL): status and body.
    pub async fn fetch(&self, url: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .http()
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
        let status = response.status();
        let body = response.bytes().await.expect("a body").to_vec();
        (status, body)
    }

    /// Publishes `body` to the media topic as S3 would (a notification captured by a
    /// [`MediaCapture`], delivered again).
    pub async fn publish_media_notification(&self, body: &str) {
        self.sns()
            .publish()
            .topic_arn(self.output("MediaEventsTopicArn"))
            .message(body)
            .send()
            .await
            .expect("publish to the media topic");
    }
}

/// A queue of the test's own subscribed to the media topic (raw delivery, like the consumers'
/// queues): it receives every notification of the bucket, the other tests' too, and keeps
/// them. [`MediaCapture::close`] removes the subscription and the queue.
#[derive(Debug)]
pub struct MediaCapture {
    queue_url: String,
    subscription_arn: String,
    received: Vec<String>,
}

impl MediaCapture {
    /// Creates the queue, lets the topic send to it and subscribes it.
    pub async fn open(stack: &Stack) -> Self {
        let topic = stack.output("MediaEventsTopicArn").to_owned();
        let name = format!("media-capture-{}", &unique_id()[..8]);
        let queue_url = stack
            .sqs()
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("create a capture queue")
            .queue_url
            .expect("its URL");
        let attributes = stack
            .sqs()
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("the capture queue's ARN")
            .attributes
            .unwrap_or_default();
        let queue_arn = attributes
            .get(&QueueAttributeName::QueueArn)
            .expect("QueueArn")
            .clone();
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}}
            }]
        });
        stack
            .sqs()
            .set_queue_attributes()
            .queue_url(&queue_url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .expect("let the media topic send to the capture queue");
        let subscription_arn = stack
            .sns()
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .attributes("RawMessageDelivery", "true")
            .return_subscription_arn(true)
            .send()
            .await
            .expect("subscribe the capture queue to the media topic")
            .subscription_arn
            .expect("a subscription ARN");
        Self {
            queue_url,
            subscription_arn,
            received: Vec::new(),
        }
    }

    /// The first notification received whose body contains `needle` (an object key), waiting
    /// up to `timeout` for it.
    pub async fn notification(&mut self, stack: &Stack, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(body) = self.received.iter().find(|b| b.contains(needle)) {
                return body.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no notification of {needle} within {timeout:?}"
            );
            let output = stack
                .sqs()
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive from the capture queue");
            for message in output.messages() {
                if let Some(body) = message.body() {
                    self.received.push(body.to_owned());
                }
                if let Some(handle) = message.receipt_handle() {
                    stack
                        .sqs()
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete a captured message");
                }
            }
        }
    }

    /// Unsubscribes and deletes the queue.
    pub async fn close(self, stack: &Stack) {
        stack
            .sns()
            .unsubscribe()
            .subscription_arn(&self.subscription_arn)
            .send()
            .await
            .expect("unsubscribe the capture queue");
        stack
            .sqs()
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await
            .expect("delete the capture queue");
    }
}

/// Waits until every consumer in `consumers` has recorded `event_id` as processed (its
/// idempotency record is `DONE`): it neither failed nor is still retrying it.
pub async fn wait_processed(stack: &Stack, consumers: &[&str], event_id: &str, timeout: Duration) {
    for consumer in consumers {
        eventually(
            &format!("{consumer} processed {event_id}"),
            timeout,
            || async { stack.processed_by(consumer, event_id).await.then_some(()) },
        )
        .await;
    }
}
