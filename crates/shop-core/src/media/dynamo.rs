//! media: the DynamoDB adapters of [`ImageRecords`] (the media table) and [`ProductImages`]
//! (the products table's items).
//!
//! **Media table** (`MediaTable` in the template: one table, partition key `pk` of type S, no
//! sort key, on-demand, PITR and `Retain` like the other tables of record). One item per image:
//!
//! | attribute | type | what |
//! | --- | --- | --- |
//! | `pk` | S | `IMAGE#<imageId>` (the prefix leaves room for other kinds of item) |
//! | `sku` | S | the product; an image belongs to one product for good |
//! | `verdict` | M | image-checker's [`ImageVerdict`]: `verdict` (`ACCEPTED` / `REJECTED`), then `format`, `width`, `height`, `bytes` or `reason` |
//! | `thumbnails` | L of M | thumbnailer's [`StoredThumbnail`]s: `size_px`, `width`, `height` |
//! | `deleted_at` | N | set by the DELETE (epoch s): the item is a tombstone, verdict and thumbnails removed |
//! | `expires_at` | N | a tombstone's TTL: [`TOMBSTONE_DAYS`] after the DELETE |
//!
//! Both writes are one UpdateItem each returning `ALL_NEW`, so whichever of the two consumers
//! writes last reads the complete record and sees [`ready_to_publish`](super::ready_to_publish).
//! Writing the same verdict (or thumbnails) again leaves the item as it was. A *different*
//! verdict replaces the earlier one, as [`ImageRecords::record_verdict`] promises: the store is
//! given no ETag, so it cannot tell a conflicting judgement of the same bytes (image-checker is
//! deterministic, so there is none) from a re-upload to the same key within the URL's expiry,
//! which must be judged again. A write naming another product than the record's is refused
//! ([`StoreError::Malformed`]): an image id is random and bound to one product's key.
//!
//! **Tombstones.** A DELETE turns the item into a tombstone instead of removing it, and both
//! writes are conditional on `attribute_not_exists(deleted_at)`: a consumer that read the
//! upload just before the DELETE, or a redelivered event, finds it and writes nothing (the
//! write returns `None`), where an upsert would have made the record again and let the image
//! be published a second time. [`TOMBSTONE_DAYS`] outlives any message about the image (SQS
//! keeps one at most 14 days) and the upload URLs (minutes); DynamoDB's TTL removes it after.
//!
//! **Products table** (key `sku`). The product's images are the map attribute `images` of its
//! item: image id → `format`, `width`, `height`, `thumbnails`, `added_at` (epoch ms, for the
//! order). At most [`MAX_IMAGES_PER_PRODUCT`] images (about 170 bytes each, so at most ~3.5 KB
//! of the item): a product read stays within one or two 4 KB read units.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValue, TransactWriteItem, Update,
};

use super::{
    ImageAdded, ImageFormat, ImageId, ImageKeys, ImageRecord, ImageRecords, ImageVerdict,
    ProductImage, ProductImages, RejectReason, StoredThumbnail,
};
use crate::catalog::Sku;
use crate::store::{
    Item, ItemReader, StoreError, backend, failed_conditions, is_conditional_failure, n, pk_key, s,
};

/// How long a deleted image's tombstone is kept (module doc): longer than SQS keeps a message.
pub const TOMBSTONE_DAYS: i64 = 15;

/// Most images a product holds; [`ProductImages::add`] refuses more. Keeps the product item
/// (read on every product page, cart and checkout) small.
pub const MAX_IMAGES_PER_PRODUCT: usize = 20;

/// Rounds of [`DynamoProductImages::add`]'s nested write and map creation before giving up:
/// each lost round means another writer changed the map in between.
const ADD_MAX_ROUNDS: u32 = 3;

const PK_PREFIX: &str = "IMAGE#";

/// The attribute that makes a media item a tombstone (module doc).
const DELETED_AT: &str = "deleted_at";

fn record_key(image_id: &ImageId) -> Item {
    pk_key(format!("{PK_PREFIX}{image_id}"))
}

fn format_from(r: &ItemReader<'_>, name: &str) -> Result<ImageFormat, StoreError> {
    let value = r.string(name)?;
    ImageFormat::ALL
        .into_iter()
        .find(|f| f.as_str() == value)
        .ok_or_else(|| {
            r.malformed(format!("attribute {name} = {value} is not an image format"))
                .into()
        })
}

/// A map attribute, read with its own [`ItemReader`] naming `<key> <name>`.
fn map<'a>(r: &ItemReader<'a>, name: &str) -> Result<&'a Item, StoreError> {
    match r.item.get(name) {
        Some(AttributeValue::M(map)) => Ok(map),
        Some(_) => Err(r.malformed(format!("attribute {name} is not a map")).into()),
        None => Err(r.malformed(format!("attribute {name} is missing")).into()),
    }
}

fn verdict_value(verdict: &ImageVerdict) -> AttributeValue {
    let map = match *verdict {
        ImageVerdict::Accepted {
            format,
            width,
            height,
            bytes,
        } => HashMap::from([
            ("verdict".to_owned(), s("ACCEPTED")),
            ("format".to_owned(), s(format.as_str())),
            ("width".to_owned(), n(width)),
            ("height".to_owned(), n(height)),
            ("bytes".to_owned(), n(bytes)),
        ]),
        ImageVerdict::Rejected { reason } => HashMap::from([
            ("verdict".to_owned(), s("REJECTED")),
            ("reason".to_owned(), s(reason.as_str())),
        ]),
    };
    AttributeValue::M(map)
}

fn verdict_from(map: &Item, key: &str) -> Result<ImageVerdict, StoreError> {
    let r = ItemReader { item: map, key };
    match r.string("verdict")? {
        "ACCEPTED" => Ok(ImageVerdict::Accepted {
            format: format_from(&r, "format")?,
            width: r.number("width")?,
            height: r.number("height")?,
            bytes: r.number("bytes")?,
        }),
        "REJECTED" => {
            let reason = r.string("reason")?;
            [
                RejectReason::NotAnImage,
                RejectReason::UnsupportedFormat,
                RejectReason::TooLarge,
                RejectReason::TooManyPixels,
                RejectReason::Corrupt,
            ]
            .into_iter()
            .find(|known| known.as_str() == reason)
            .map(ImageVerdict::rejected)
            .ok_or_else(|| {
                r.malformed(format!("attribute reason = {reason} is not a reason"))
                    .into()
            })
        }
        other => Err(r
            .malformed(format!("attribute verdict = {other} is not a verdict"))
            .into()),
    }
}

fn thumbnails_value(thumbnails: &[StoredThumbnail]) -> AttributeValue {
    AttributeValue::L(
        thumbnails
            .iter()
            .map(|t| {
                AttributeValue::M(HashMap::from([
                    ("size_px".to_owned(), n(t.size_px)),
                    ("width".to_owned(), n(t.width)),
                    ("height".to_owned(), n(t.height)),
                ]))
            })
            .collect(),
    )
}

fn thumbnails_from(r: &ItemReader<'_>, name: &str) -> Result<Vec<StoredThumbnail>, StoreError> {
    let Some(AttributeValue::L(list)) = r.item.get(name) else {
        return Err(r
            .malformed(format!("attribute {name} is not a list"))
            .into());
    };
    list.iter()
        .enumerate()
        .map(|(i, value)| {
            let key = format!("{} {name}[{i}]", r.key);
            let AttributeValue::M(map) = value else {
                return Err(StoreError::Malformed {
                    key,
                    problem: "not a map".to_owned(),
                });
            };
            let t = ItemReader {
                item: map,
                key: &key,
            };
            Ok(StoredThumbnail {
                size_px: t.number("size_px")?,
                width: t.number("width")?,
                height: t.number("height")?,
            })
        })
        .collect()
}

/// The record in a media-table item.
fn record_from_item(item: &Item) -> Result<ImageRecord, StoreError> {
    let key = match item.get("pk") {
        Some(AttributeValue::S(pk)) => pk.as_str(),
        _ => "<no pk>",
    };
    let r = ItemReader { item, key };
    let image_id = r
        .string("pk")?
        .strip_prefix(PK_PREFIX)
        .ok_or_else(|| r.malformed(format!("pk does not start with {PK_PREFIX}")))
        .and_then(|id| ImageId::parse(id).map_err(|e| r.malformed(e.to_string())))?;
    let sku = Sku::parse(r.string("sku")?).map_err(|e| r.malformed(e.to_string()))?;
    let verdict = match item.get("verdict") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(_) => Some(verdict_from(
            map(&r, "verdict")?,
            &format!("{key} verdict"),
        )?),
    };
    let thumbnails = match item.get("thumbnails") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(_) => Some(thumbnails_from(&r, "thumbnails")?),
    };
    Ok(ImageRecord {
        keys: ImageKeys::new(sku, image_id),
        verdict,
        thumbnails,
    })
}

/// The image records in a DynamoDB table keyed by `pk` (module doc).
#[derive(Debug, Clone)]
pub struct DynamoImageRecords {
    client: Client,
    table: String,
}

impl DynamoImageRecords {
    /// Records in `table`, using `client` (build the client once per process).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// `SET sku = :sku, <attribute> = :value` on the record of `keys`, created when missing,
    /// refused when it belongs to another product; the record after the write, `None` when
    /// the image was deleted (a tombstone: nothing written).
    async fn upsert(
        &self,
        keys: &ImageKeys,
        attribute: &'static str,
        value: AttributeValue,
        operation: &'static str,
    ) -> Result<Option<ImageRecord>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(record_key(&keys.image_id)))
            .update_expression("SET #sku = :sku, #a = :value")
            .condition_expression(
                "(attribute_not_exists(pk) OR #sku = :sku) AND attribute_not_exists(#deleted)",
            )
            .expression_attribute_names("#sku", "sku")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_names("#deleted", DELETED_AT)
            .expression_attribute_values(":sku", s(keys.sku.as_str()))
            .expression_attribute_values(":value", value)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes() {
                Some(item) => record_from_item(item).map(Some),
                None => Err(StoreError::Backend {
                    operation,
                    message: "no attributes returned for ALL_NEW".to_owned(),
                }),
            },
            // Which half of the condition failed: a read tells (rare, so not worth
            // ReturnValuesOnConditionCheckFailure on every write).
            Err(err) if is_conditional_failure(&err) => match self.item(&keys.image_id).await? {
                Some(item) if is_tombstone(&item) => Ok(None),
                _ => Err(StoreError::Malformed {
                    key: format!("{PK_PREFIX}{}", keys.image_id),
                    problem: format!("the image belongs to another product than {}", keys.sku),
                }),
            },
            Err(err) => Err(backend(operation, &err)),
        }
    }

    /// The item of `image_id`, tombstone or not, read strongly consistently.
    async fn item(&self, image_id: &ImageId) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(record_key(image_id)))
            // The consumers decide from it right after the other one wrote.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem media", &e))?;
        Ok(output.item)
    }
}

/// Whether a media item is a deleted image's tombstone.
fn is_tombstone(item: &Item) -> bool {
    item.contains_key(DELETED_AT)
}

impl ImageRecords for DynamoImageRecords {
    async fn record_verdict(
        &self,
        keys: &ImageKeys,
        verdict: &ImageVerdict,
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.upsert(
            keys,
            "verdict",
            verdict_value(verdict),
            "UpdateItem media verdict",
        )
        .await
    }

    async fn mark_thumbnails(
        &self,
        keys: &ImageKeys,
        thumbnails: &[StoredThumbnail],
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.upsert(
            keys,
            "thumbnails",
            thumbnails_value(thumbnails),
            "UpdateItem media thumbnails",
        )
        .await
    }

    async fn get(&self, image_id: &ImageId) -> Result<Option<ImageRecord>, StoreError> {
        match self.item(image_id).await? {
            Some(item) if !is_tombstone(&item) => record_from_item(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn delete(&self, image_id: &ImageId) -> Result<(), StoreError> {
        // Unconditional: a second DELETE moves the tombstone's expiry on, which is harmless.
        let now = now_millis() / 1000;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(record_key(image_id)))
            .update_expression(
                "SET #deleted = :now, #expires = :expires REMOVE #verdict, #thumbnails",
            )
            .expression_attribute_names("#deleted", DELETED_AT)
            .expression_attribute_names("#expires", "expires_at")
            .expression_attribute_names("#verdict", "verdict")
            .expression_attribute_names("#thumbnails", "thumbnails")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":expires", n(now + TOMBSTONE_DAYS * 86_400))
            .send()
            .await
            .map_err(|e| backend("UpdateItem media (tombstone)", &e))?;
        Ok(())
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One entry of a product's `images` map (its key is the image id).
fn image_value(image: &ProductImage, added_at_ms: i64) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("format".to_owned(), s(image.format.as_str())),
        ("width".to_owned(), n(image.width)),
        ("height".to_owned(), n(image.height)),
        ("thumbnails".to_owned(), thumbnails_value(&image.thumbnails)),
        ("added_at".to_owned(), n(added_at_ms)),
    ]))
}

/// The images of a product item's `images` map, oldest first (then by id, for equal times).
fn images_from(images: &Item, sku: &str) -> Result<Vec<ProductImage>, StoreError> {
    let mut out = Vec::with_capacity(images.len());
    for (id, value) in images {
        let key = format!("{sku} images.{id}");
        let image_id = ImageId::parse(id).map_err(|e| StoreError::Malformed {
            key: key.clone(),
            problem: e.to_string(),
        })?;
        let AttributeValue::M(entry) = value else {
            return Err(StoreError::Malformed {
                key,
                problem: "not a map".to_owned(),
            });
        };
        let r = ItemReader {
            item: entry,
            key: &key,
        };
        let added_at: i64 = r.number("added_at")?;
        out.push((
            added_at,
            ProductImage {
                image_id,
                format: format_from(&r, "format")?,
                width: r.number("width")?,
                height: r.number("height")?,
                thumbnails: thumbnails_from(&r, "thumbnails")?,
            },
        ));
    }
    out.sort_by(|(a_at, a), (b_at, b)| a_at.cmp(b_at).then_with(|| a.image_id.cmp(&b.image_id)));
    Ok(out.into_iter().map(|(_, image)| image).collect())
}

/// The `images` map of a product item: `None` when the attribute is absent.
fn images_map<'a>(item: &'a Item, sku: &str) -> Result<Option<&'a Item>, StoreError> {
    match item.get("images") {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::M(map)) => Ok(Some(map)),
        Some(_) => Err(StoreError::Malformed {
            key: sku.to_owned(),
            problem: "attribute images is not a map".to_owned(),
        }),
    }
}

/// Products' images on the products table's items (module doc).
///
/// Built with [`new`](Self::new) it reads and removes them (catalog-api, images-api); the
/// publisher (catalog-images) builds it [`guarded_by`](Self::guarded_by) the media table, so
/// that each add is one `TransactWriteItems`: a `ConditionCheck` that the image's record
/// stands (not a tombstone) and the product's update. A record read and an add are two calls;
/// the transaction makes "not deleted" hold at the moment of the write, not at the read.
#[derive(Debug, Clone)]
pub struct DynamoProductImages {
    client: Client,
    products_table: String,
    media_table: Option<String>,
}

/// One conditional update of a product item, sent alone or inside a transaction.
struct ProductUpdate {
    update: &'static str,
    condition: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// What a [`ProductUpdate`] did.
enum Written {
    Yes,
    /// The product's condition did not hold.
    ConditionFailed,
    /// The guard found the image deleted.
    ImageDeleted,
}

impl DynamoProductImages {
    /// Images on the items of `products_table`, using `client`; adds unguarded (type doc).
    pub fn new(client: Client, products_table: impl Into<String>) -> Self {
        Self {
            client,
            products_table: products_table.into(),
            media_table: None,
        }
    }

    /// Every add also checks, atomically, that the image's record in `media_table` stands.
    #[must_use]
    pub fn guarded_by(mut self, media_table: impl Into<String>) -> Self {
        self.media_table = Some(media_table.into());
        self
    }

    fn sku_key(sku: &Sku) -> Item {
        Item::from([("sku".to_owned(), s(sku.as_str()))])
    }

    /// The product's `sku` and `images`, read strongly consistently; `None` when no product.
    async fn product_images_item(
        &self,
        sku: &Sku,
        consistent: bool,
        operation: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.products_table)
            .set_key(Some(Self::sku_key(sku)))
            .projection_expression("#sku, #images")
            .expression_attribute_names("#sku", "sku")
            .expression_attribute_names("#images", "images")
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| backend(operation, &e))?;
        Ok(output.item)
    }

    /// `update` on the product `sku`: an UpdateItem, or, when guarded, a transaction of the
    /// guard's ConditionCheck on the record of `image_id` and the update.
    async fn write(
        &self,
        sku: &Sku,
        image_id: &ImageId,
        update: ProductUpdate,
        operation: &'static str,
    ) -> Result<Written, StoreError> {
        let Some(media_table) = &self.media_table else {
            let result = self
                .client
                .update_item()
                .table_name(&self.products_table)
                .set_key(Some(Self::sku_key(sku)))
                .update_expression(update.update)
                .condition_expression(update.condition)
                .set_expression_attribute_names(Some(update.names))
                .set_expression_attribute_values(Some(update.values))
                .send()
                .await;
            return match result {
                Ok(_) => Ok(Written::Yes),
                Err(err) if is_conditional_failure(&err) => Ok(Written::ConditionFailed),
                Err(err) => Err(backend(operation, &err)),
            };
        };
        let build = |err| backend("TransactWriteItems product images (build)", &err);
        let guard = ConditionCheck::builder()
            .table_name(media_table)
            .set_key(Some(record_key(image_id)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#deleted)")
            .expression_attribute_names("#deleted", DELETED_AT)
            .build()
            .map_err(build)?;
        let product = Update::builder()
            .table_name(&self.products_table)
            .set_key(Some(Self::sku_key(sku)))
            .update_expression(update.update)
            .condition_expression(update.condition)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(guard).build())
            .transact_items(TransactWriteItem::builder().update(product).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::Yes),
            Err(err) => {
                let failed = failed_conditions(&err);
                if failed.contains(&0) {
                    Ok(Written::ImageDeleted)
                } else if failed.contains(&1) {
                    Ok(Written::ConditionFailed)
                } else {
                    Err(backend(operation, &err))
                }
            }
        }
    }

    /// `SET images.<id> = :image` when the map exists, has room and lacks the id.
    async fn add_to_map(
        &self,
        sku: &Sku,
        image: &ProductImage,
        entry: AttributeValue,
    ) -> Result<Written, StoreError> {
        let update = ProductUpdate {
            update: "SET #images.#id = :image",
            condition: "attribute_exists(#sku) AND attribute_exists(#images) \
                 AND attribute_not_exists(#images.#id) AND size(#images) < :max",
            names: HashMap::from([
                ("#sku".to_owned(), "sku".to_owned()),
                ("#images".to_owned(), "images".to_owned()),
                ("#id".to_owned(), image.image_id.to_string()),
            ]),
            values: HashMap::from([
                (":image".to_owned(), entry),
                (":max".to_owned(), n(MAX_IMAGES_PER_PRODUCT)),
            ]),
        };
        self.write(sku, &image.image_id, update, "UpdateItem product images")
            .await
    }

    /// `SET images = {<id>: :image}` on a product that has no map yet.
    async fn create_map(
        &self,
        sku: &Sku,
        image: &ProductImage,
        entry: AttributeValue,
    ) -> Result<Written, StoreError> {
        let update = ProductUpdate {
            update: "SET #images = :map",
            condition: "attribute_exists(#sku) AND attribute_not_exists(#images)",
            names: HashMap::from([
                ("#sku".to_owned(), "sku".to_owned()),
                ("#images".to_owned(), "images".to_owned()),
            ]),
            values: HashMap::from([(
                ":map".to_owned(),
                AttributeValue::M(HashMap::from([(image.image_id.to_string(), entry)])),
            )]),
        };
        self.write(
            sku,
            &image.image_id,
            update,
            "UpdateItem product images (create)",
        )
        .await
    }
}

impl ProductImages for DynamoProductImages {
    /// The common case is one write. An update expression cannot create the `images` map and
    /// set an entry of it at once (`SET images = if_not_exists(...)` and `SET images.#id`
    /// overlap), so the first image of a product takes three calls: the nested write fails its
    /// condition, a read tells why, and a conditional write creates the map. The read also
    /// tells a missing product, an image already there (a redelivery, or the other consumer)
    /// and a full product apart. A round lost to a concurrent writer is tried again, three
    /// rounds in all. A product holding [`MAX_IMAGES_PER_PRODUCT`] images refuses
    /// more with [`StoreError::Malformed`] naming it: retrying cannot help, so a consumer
    /// sends the event to its DLQ (the API checks the count before handing out an upload).
    /// Guarded (type doc), each write is a two-item transaction and an image deleted meanwhile
    /// is [`ImageAdded::Deleted`] whatever the product's state.
    async fn add(&self, sku: &Sku, image: &ProductImage) -> Result<ImageAdded, StoreError> {
        const OPERATION: &str = "UpdateItem product images";
        let entry = image_value(image, now_millis());
        for _ in 0..ADD_MAX_ROUNDS {
            match self.add_to_map(sku, image, entry.clone()).await? {
                Written::Yes => return Ok(ImageAdded::Added),
                Written::ImageDeleted => return Ok(ImageAdded::Deleted),
                Written::ConditionFailed => {}
            }
            let Some(item) = self
                .product_images_item(sku, true, "GetItem product images")
                .await?
            else {
                return Ok(ImageAdded::NoProduct);
            };
            match images_map(&item, sku.as_str())? {
                None => match self.create_map(sku, image, entry.clone()).await? {
                    Written::Yes => return Ok(ImageAdded::Added),
                    Written::ImageDeleted => return Ok(ImageAdded::Deleted),
                    Written::ConditionFailed => {}
                },
                Some(images) if images.contains_key(image.image_id.as_str()) => {
                    return Ok(ImageAdded::AlreadyPresent);
                }
                Some(images) if images.len() >= MAX_IMAGES_PER_PRODUCT => {
                    return Err(StoreError::Malformed {
                        key: sku.to_string(),
                        problem: format!(
                            "already holds {} images, the most a product may (MAX_IMAGES_PER_PRODUCT)",
                            images.len()
                        ),
                    });
                }
                // The map changed between the write and the read: try again.
                Some(_) => {}
            }
        }
        Err(StoreError::Backend {
            operation: OPERATION,
            message: format!(
                "images of {sku} changed concurrently in each of {ADD_MAX_ROUNDS} rounds"
            ),
        })
    }

    async fn remove(&self, sku: &Sku, image_id: &ImageId) -> Result<bool, StoreError> {
        // The condition also keeps an UpdateItem from creating an item for a missing product.
        let result = self
            .client
            .update_item()
            .table_name(&self.products_table)
            .set_key(Some(Self::sku_key(sku)))
            .update_expression("REMOVE #images.#id")
            .condition_expression("attribute_exists(#images.#id)")
            .expression_attribute_names("#images", "images")
            .expression_attribute_names("#id", image_id.as_str())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend("UpdateItem product images (remove)", &err)),
        }
    }

    async fn list(&self, sku: &Sku) -> Result<Vec<ProductImage>, StoreError> {
        // Eventually consistent, like the product read it goes with: an image published a
        // moment ago may show a moment later.
        let Some(item) = self
            .product_images_item(sku, false, "GetItem product images (list)")
            .await?
        else {
            return Ok(Vec::new());
        };
        match images_map(&item, sku.as_str())? {
            Some(images) => images_from(images, sku.as_str()),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::THUMBNAIL_SIZES;
    use crate::test_support::sku;

    fn keys() -> ImageKeys {
        ImageKeys::new(
            sku("MUG-1"),
            ImageId::parse("img_0123456789abcdef0123456789abcdef").unwrap(),
        )
    }

    fn accepted() -> ImageVerdict {
        ImageVerdict::Accepted {
            format: ImageFormat::Png,
            width: 1200,
            height: 800,
            bytes: 123_456,
        }
    }

    fn thumbnails() -> Vec<StoredThumbnail> {
        vec![
            StoredThumbnail {
                size_px: 128,
                width: 128,
                height: 85,
            },
            StoredThumbnail {
                size_px: 512,
                width: 512,
                height: 341,
            },
        ]
    }

    /// The item the two writes leave behind.
    fn record_to_item(record: &ImageRecord) -> Item {
        let mut item = record_key(&record.keys.image_id);
        item.insert("sku".to_owned(), s(record.keys.sku.as_str()));
        if let Some(verdict) = &record.verdict {
            item.insert("verdict".to_owned(), verdict_value(verdict));
        }
        if let Some(thumbnails) = &record.thumbnails {
            item.insert("thumbnails".to_owned(), thumbnails_value(thumbnails));
        }
        item
    }

    fn image(id: &str) -> ProductImage {
        ProductImage {
            image_id: ImageId::parse(id).unwrap(),
            format: ImageFormat::Jpeg,
            width: 4000,
            height: 3000,
            thumbnails: thumbnails(),
        }
    }

    fn error_text(result: Result<impl std::fmt::Debug, StoreError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn records_round_trip_through_items() {
        let mut record = ImageRecord::new(keys());
        assert_eq!(
            record_from_item(&record_to_item(&record)).ok(),
            Some(record.clone())
        );
        record.verdict = Some(accepted());
        assert_eq!(
            record_from_item(&record_to_item(&record)).ok(),
            Some(record.clone())
        );
        record.thumbnails = Some(thumbnails());
        let item = record_to_item(&record);
        assert_eq!(
            item.get("pk"),
            Some(&s("IMAGE#img_0123456789abcdef0123456789abcdef"))
        );
        assert_eq!(record_from_item(&item).ok(), Some(record.clone()));
        for reason in [
            RejectReason::NotAnImage,
            RejectReason::UnsupportedFormat,
            RejectReason::TooLarge,
            RejectReason::TooManyPixels,
            RejectReason::Corrupt,
        ] {
            record.verdict = Some(ImageVerdict::rejected(reason));
            assert_eq!(
                record_from_item(&record_to_item(&record)).ok(),
                Some(record.clone())
            );
        }
        for format in ImageFormat::ALL {
            let verdict = ImageVerdict::Accepted {
                format,
                width: 1,
                height: 2,
                bytes: 3,
            };
            let value = verdict_value(&verdict);
            let map = value.as_m().unwrap();
            assert_eq!(verdict_from(map, "k").ok(), Some(verdict));
        }
    }

    #[test]
    fn malformed_records_name_the_item_and_attribute() {
        let record = ImageRecord {
            verdict: Some(accepted()),
            thumbnails: Some(thumbnails()),
            ..ImageRecord::new(keys())
        };
        let pk = "IMAGE#img_0123456789abcdef0123456789abcdef";
        let broken = |change: &dyn Fn(&mut Item)| {
            let mut item = record_to_item(&record);
            change(&mut item);
            error_text(record_from_item(&item))
        };

        let err = broken(&|item| {
            item.insert("sku".to_owned(), s("no spaces allowed"));
        });
        assert!(err.contains(pk), "{err}");
        let err = broken(&|item| {
            item.insert("pk".to_owned(), s("IMAGE#nope"));
        });
        assert!(err.contains("IMAGE#nope"), "{err}");
        let err = broken(&|item| {
            item.insert(
                "pk".to_owned(),
                s("ORDER#img_0123456789abcdef0123456789abcdef"),
            );
        });
        assert!(err.contains("does not start with IMAGE#"), "{err}");
        let err = broken(&|item| {
            item.insert("verdict".to_owned(), s("ACCEPTED"));
        });
        assert!(
            err.contains(pk) && err.contains("verdict is not a map"),
            "{err}"
        );
        let err = broken(&|item| {
            if let Some(AttributeValue::M(v)) = item.get_mut("verdict") {
                v.insert("format".to_owned(), s("GIF"));
            }
        });
        assert!(
            err.contains(&format!("{pk} verdict")) && err.contains("GIF"),
            "{err}"
        );
        let err = broken(&|item| {
            if let Some(AttributeValue::M(v)) = item.get_mut("verdict") {
                v.remove("width");
            }
        });
        assert!(err.contains("width is missing"), "{err}");
        let err = broken(&|item| {
            item.insert(
                "verdict".to_owned(),
                AttributeValue::M(HashMap::from([
                    ("verdict".to_owned(), s("REJECTED")),
                    ("reason".to_owned(), s("UGLY")),
                ])),
            );
        });
        assert!(err.contains("UGLY"), "{err}");
        let err = broken(&|item| {
            if let Some(AttributeValue::L(list)) = item.get_mut("thumbnails") {
                list.push(s("x"));
            }
        });
        assert!(err.contains(&format!("{pk} thumbnails[2]")), "{err}");
        let err = broken(&|item| {
            if let Some(AttributeValue::L(list)) = item.get_mut("thumbnails")
                && let Some(AttributeValue::M(first)) = list.first_mut()
            {
                first.insert("width".to_owned(), n(-1));
            }
        });
        assert!(
            err.contains(&format!("{pk} thumbnails[0]")) && err.contains("width"),
            "{err}"
        );
        let mut no_pk = record_to_item(&record);
        no_pk.remove("pk");
        assert!(error_text(record_from_item(&no_pk)).contains("<no pk>"));
    }

    #[test]
    fn product_images_round_trip_in_the_order_added() {
        let a = image("img_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        let b = image("img_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        let c = image("img_cccccccccccccccccccccccccccccccc");
        let map = Item::from([
            (c.image_id.to_string(), image_value(&c, 1_000)),
            (a.image_id.to_string(), image_value(&a, 3_000)),
            (b.image_id.to_string(), image_value(&b, 1_000)),
        ]);
        let listed = images_from(&map, "MUG-1").unwrap();
        assert_eq!(listed, vec![b, c, a]);
        let item = Item::from([
            ("sku".to_owned(), s("MUG-1")),
            ("images".to_owned(), AttributeValue::M(map)),
        ]);
        assert_eq!(
            images_map(&item, "MUG-1").unwrap().map(HashMap::len),
            Some(3)
        );
        let bare = Item::from([("sku".to_owned(), s("MUG-1"))]);
        assert_eq!(images_map(&bare, "MUG-1").unwrap(), None);
    }

    #[test]
    fn malformed_product_images_name_the_product_and_image() {
        let a = image("img_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        let mut entry = image_value(&a, 1);
        if let AttributeValue::M(m) = &mut entry {
            m.remove("added_at");
        }
        let map = Item::from([(a.image_id.to_string(), entry)]);
        let err = error_text(images_from(&map, "MUG-1"));
        assert!(
            err.contains("MUG-1 images.img_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
                && err.contains("added_at is missing"),
            "{err}"
        );
        let map = Item::from([("../etc".to_owned(), image_value(&a, 1))]);
        let err = error_text(images_from(&map, "MUG-1"));
        assert!(err.contains("MUG-1 images.../etc"), "{err}");
        let item = Item::from([("images".to_owned(), s("x"))]);
        let err = error_text(images_map(&item, "MUG-1"));
        assert!(
            err.contains("MUG-1") && err.contains("images is not a map"),
            "{err}"
        );
    }

    /// DynamoDB's size of a value (names and values as UTF-8, numbers ~1 byte per 2 digits + 1,
    /// 3 bytes per map or list plus 1 per element): an upper estimate.
    fn size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(v) => v.len(),
            AttributeValue::N(v) => v.len().div_ceil(2) + 1,
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + size(v) + 1).sum::<usize>(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| size(v) + 1).sum::<usize>(),
            _ => 1,
        }
    }

    #[test]
    fn a_full_product_keeps_its_item_small() {
        let entry = image_value(&image("img_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), now_millis());
        let one = "img_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".len() + size(&entry) + 1;
        assert_eq!(THUMBNAIL_SIZES.len(), thumbnails().len());
        // The module doc's "about 170 bytes each, ~3.5 KB in all".
        assert!((150..=180).contains(&one), "{one}");
        assert!(one * MAX_IMAGES_PER_PRODUCT <= 3_600);
    }
}

/// Against real tables (LocalStack's DynamoDB): run with
/// `cargo test -p shop-core --lib -- --ignored media` while `make up` runs. It creates and
/// deletes its own tables.
#[cfg(test)]
mod real_table {
    use aws_sdk_dynamodb::error::DisplayErrorContext;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };

    use super::*;
    use crate::catalog::{DynamoProductStore, ProductStore};
    use crate::media::ready_to_publish;
    use crate::test_support::{product, sku};

    async fn table(client: &Client, name: &str, key: &str) {
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(&e)));
    }

    fn image_id(n: u8) -> ImageId {
        ImageId::parse(&format!("img_{n:032x}")).unwrap()
    }

    fn published(id: ImageId) -> ProductImage {
        ProductImage {
            image_id: id,
            format: ImageFormat::Webp,
            width: 640,
            height: 480,
            thumbnails: vec![
                StoredThumbnail {
                    size_px: 128,
                    width: 128,
                    height: 96,
                },
                StoredThumbnail {
                    size_px: 512,
                    width: 512,
                    height: 384,
                },
            ],
        }
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB endpoint (AWS_ENDPOINT_URL, default LocalStack's)"]
    async fn media_records_on_a_real_table() {
        let conf = crate::test_support::local_sdk_config().await;
        let client = Client::new(&conf);
        let name = format!("media-store-test-{}", std::process::id());
        table(&client, &name, "pk").await;
        let records = DynamoImageRecords::new(client.clone(), &name);
        let keys = ImageKeys::new(sku("MUG-1"), image_id(1));
        let verdict = ImageVerdict::Accepted {
            format: ImageFormat::Png,
            width: 10,
            height: 20,
            bytes: 300,
        };

        let first = records
            .record_verdict(&keys, &verdict)
            .await
            .unwrap()
            .unwrap();
        let second = records
            .record_verdict(&keys, &verdict)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(first.verdict, Some(verdict));
        assert!(!ready_to_publish(&second));
        let scanned = client.scan().table_name(&name).send().await.unwrap();
        assert_eq!(scanned.count(), 1);

        let thumbnails = published(keys.image_id.clone()).thumbnails;
        let done = records
            .mark_thumbnails(&keys, &thumbnails)
            .await
            .unwrap()
            .unwrap();
        assert!(ready_to_publish(&done), "{done:?}");
        assert_eq!(records.get(&keys.image_id).await.unwrap(), Some(done));

        // Thumbnails first, verdict last: the verdict's write returns the complete record.
        let other = ImageKeys::new(sku("MUG-1"), image_id(2));
        let partial = records
            .mark_thumbnails(&other, &thumbnails)
            .await
            .unwrap()
            .unwrap();
        assert!(!ready_to_publish(&partial));
        assert!(ready_to_publish(
            &records
                .record_verdict(&other, &verdict)
                .await
                .unwrap()
                .unwrap()
        ));

        // A different verdict replaces the earlier one (a re-upload judged again).
        let rejected = ImageVerdict::rejected(RejectReason::Corrupt);
        let judged = records
            .record_verdict(&other, &rejected)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(judged.verdict, Some(rejected));
        assert!(!ready_to_publish(&judged));

        // The same image id under another product is refused.
        let hijack = ImageKeys::new(sku("TEE-1"), image_id(2));
        let err = records.record_verdict(&hijack, &verdict).await;
        assert!(matches!(err, Err(StoreError::Malformed { .. })), "{err:?}");

        // DELETE leaves a tombstone: read as no record, refusing both writes, with a TTL.
        records.delete(&keys.image_id).await.unwrap();
        records.delete(&keys.image_id).await.unwrap();
        assert_eq!(records.get(&keys.image_id).await.unwrap(), None);
        assert_eq!(records.record_verdict(&keys, &verdict).await.unwrap(), None);
        assert_eq!(
            records.mark_thumbnails(&keys, &thumbnails).await.unwrap(),
            None
        );
        assert_eq!(records.get(&keys.image_id).await.unwrap(), None);
        let tombstone = records.item(&keys.image_id).await.unwrap().unwrap();
        assert!(!tombstone.contains_key("verdict") && !tombstone.contains_key("thumbnails"));
        let r = ItemReader {
            item: &tombstone,
            key: "tombstone",
        };
        let (deleted_at, expires_at): (i64, i64) = (
            r.number(DELETED_AT).unwrap(),
            r.number("expires_at").unwrap(),
        );
        assert_eq!(expires_at - deleted_at, TOMBSTONE_DAYS * 86_400);
        // Deleting an image that never had a record succeeds too.
        records.delete(&image_id(9)).await.unwrap();
        client.delete_table().table_name(&name).send().await.ok();
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB endpoint (AWS_ENDPOINT_URL, default LocalStack's)"]
    async fn media_product_images_on_a_real_table() {
        let conf = crate::test_support::local_sdk_config().await;
        let client = Client::new(&conf);
        let name = format!("media-products-test-{}", std::process::id());
        table(&client, &name, "sku").await;
        let products = DynamoProductStore::new(client.clone(), &name);
        products.put(&product("MUG-1", 900, 5)).await.unwrap();
        let images = DynamoProductImages::new(client.clone(), &name);
        let mug = sku("MUG-1");

        let first = published(image_id(1));
        assert_eq!(images.add(&mug, &first).await.unwrap(), ImageAdded::Added);
        assert_eq!(
            images.add(&mug, &first).await.unwrap(),
            ImageAdded::AlreadyPresent
        );
        let second = published(image_id(2));
        assert_eq!(images.add(&mug, &second).await.unwrap(), ImageAdded::Added);
        assert_eq!(
            images.list(&mug).await.unwrap(),
            vec![first.clone(), second.clone()]
        );
        // The product's own attributes are untouched.
        assert_eq!(
            products.get(&mug).await.unwrap(),
            Some(product("MUG-1", 900, 5))
        );

        let missing = sku("NOPE-1");
        assert_eq!(
            images.add(&missing, &first).await.unwrap(),
            ImageAdded::NoProduct
        );
        assert_eq!(products.get(&missing).await.unwrap(), None);
        assert_eq!(images.list(&missing).await.unwrap(), Vec::new());
        assert!(!images.remove(&missing, &first.image_id).await.unwrap());
        assert_eq!(products.get(&missing).await.unwrap(), None);

        assert!(images.remove(&mug, &first.image_id).await.unwrap());
        assert!(!images.remove(&mug, &first.image_id).await.unwrap());
        assert_eq!(images.list(&mug).await.unwrap(), vec![second]);

        // Full at MAX_IMAGES_PER_PRODUCT.
        for i in 3..=u8::try_from(MAX_IMAGES_PER_PRODUCT + 1).unwrap() {
            images.add(&mug, &published(image_id(i))).await.unwrap();
        }
        assert_eq!(
            images.list(&mug).await.unwrap().len(),
            MAX_IMAGES_PER_PRODUCT
        );
        let over = images.add(&mug, &published(image_id(40))).await;
        assert!(
            matches!(over, Err(StoreError::Malformed { .. })),
            "{over:?}"
        );
        client.delete_table().table_name(&name).send().await.ok();
    }

    /// The race of a publish and a DELETE, on real tables: catalog-images read the record
    /// (ready), then the DELETE (tombstone, off the product), then the add.
    #[tokio::test]
    #[ignore = "needs a DynamoDB endpoint (AWS_ENDPOINT_URL, default LocalStack's)"]
    async fn a_guarded_add_refuses_an_image_deleted_since_its_record_was_read() {
        let conf = crate::test_support::local_sdk_config().await;
        let client = Client::new(&conf);
        let products_table = format!("media-guard-products-{}", std::process::id());
        let media_table = format!("media-guard-records-{}", std::process::id());
        table(&client, &products_table, "sku").await;
        table(&client, &media_table, "pk").await;
        DynamoProductStore::new(client.clone(), &products_table)
            .put(&product("MUG-1", 900, 5))
            .await
            .unwrap();
        let records = DynamoImageRecords::new(client.clone(), &media_table);
        let images =
            DynamoProductImages::new(client.clone(), &products_table).guarded_by(&media_table);
        let mug = sku("MUG-1");
        let verdict = ImageVerdict::Accepted {
            format: ImageFormat::Webp,
            width: 640,
            height: 480,
            bytes: 300,
        };
        let ready = async |id| {
            let keys = ImageKeys::new(sku("MUG-1"), image_id(id));
            records.record_verdict(&keys, &verdict).await.unwrap();
            let thumbnails = published(image_id(id)).thumbnails;
            let record = records
                .mark_thumbnails(&keys, &thumbnails)
                .await
                .unwrap()
                .unwrap();
            ProductImage::from_record(&record).unwrap()
        };

        // The first image creates the map, the second is added to it; both with their guard.
        let (first, second) = (ready(1).await, ready(2).await);
        assert_eq!(images.add(&mug, &first).await.unwrap(), ImageAdded::Added);
        assert_eq!(
            images.add(&mug, &first).await.unwrap(),
            ImageAdded::AlreadyPresent
        );
        assert_eq!(images.add(&mug, &second).await.unwrap(), ImageAdded::Added);

        // The second thumbnail's publish of `first` had read its record; the DELETE runs.
        records.delete(&first.image_id).await.unwrap();
        assert!(images.remove(&mug, &first.image_id).await.unwrap());
        assert_eq!(images.add(&mug, &first).await.unwrap(), ImageAdded::Deleted);
        assert_eq!(images.list(&mug).await.unwrap(), vec![second.clone()]);
        // An image with no record at all is not published either.
        assert_eq!(
            images.add(&mug, &published(image_id(3))).await.unwrap(),
            ImageAdded::Deleted
        );
        // The guard also holds for the map's creation (a product with no images yet).
        let tee = product("TEE-1", 1500, 3);
        DynamoProductStore::new(client.clone(), &products_table)
            .put(&tee)
            .await
            .unwrap();
        assert_eq!(
            images.add(&tee.sku, &published(image_id(3))).await.unwrap(),
            ImageAdded::Deleted
        );
        assert_eq!(images.list(&tee.sku).await.unwrap(), Vec::new());
        client
            .delete_table()
            .table_name(&products_table)
            .send()
            .await
            .ok();
        client
            .delete_table()
            .table_name(&media_table)
            .send()
            .await
            .ok();
    }
}
