//! media: the in-memory adapters (unit tests and the `fakes` feature).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::{
    ImageAdded, ImageId, ImageKeys, ImageObjects, ImageRecord, ImageRecords, ImageVerdict,
    ProductImage, ProductImages, StoredThumbnail,
};
use crate::catalog::Sku;
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// The bucket in memory: key → (bytes, content type).
#[derive(Debug, Default)]
pub struct InMemoryImageObjects {
    objects: Mutex<BTreeMap<String, (Vec<u8>, String)>>,
}

impl InMemoryImageObjects {
    /// Stores an object as a client's upload would (tests).
    pub fn insert(&self, key: &str, bytes: Vec<u8>, content_type: &str) {
        lock(&self.objects).insert(key.to_owned(), (bytes, content_type.to_owned()));
    }

    /// The bytes and content type at `key`.
    pub fn object(&self, key: &str) -> Option<(Vec<u8>, String)> {
        lock(&self.objects).get(key).cloned()
    }

    /// Every key, in order.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }
}

/// `range` of `bytes`, clamped to their length.
fn slice(bytes: &[u8], range: Range<u64>) -> Vec<u8> {
    let clamp = |n: u64| usize::try_from(n).map_or(bytes.len(), |n| n.min(bytes.len()));
    let (start, end) = (clamp(range.start), clamp(range.end));
    bytes
        .get(start..end.max(start))
        .unwrap_or_default()
        .to_vec()
}

impl ImageObjects for InMemoryImageObjects {
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.objects)
            .get(key)
            .map(|(bytes, _)| slice(bytes, range)))
    }

    async fn get(&self, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.objects)
            .get(key)
            .map(|(bytes, _)| slice(bytes, 0..max_bytes.saturating_add(1))))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), StoreError> {
        self.insert(key, bytes, content_type);
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let mut objects = lock(&self.objects);
        let before = objects.len();
        objects.retain(|key, _| !key.starts_with(prefix));
        Ok(before - objects.len())
    }
}

/// A media item: a record, or a deleted image's tombstone.
#[derive(Debug, Clone)]
enum Entry {
    Record(ImageRecord),
    Tombstone,
}

/// The image records in memory, by image id. Its table is shared with the
/// [`InMemoryProductImages`] [`guarded_by`](InMemoryProductImages::guarded_by) it.
#[derive(Debug, Default)]
pub struct InMemoryImageRecords {
    records: Arc<Mutex<HashMap<ImageId, Entry>>>,
}

impl InMemoryImageRecords {
    /// Applies `change` to the record of `keys` (created when missing) and returns it; `None`
    /// on a tombstone (nothing changed). Another product's record is refused, as DynamoDB's.
    fn upsert(
        &self,
        keys: &ImageKeys,
        change: impl FnOnce(&mut ImageRecord),
    ) -> Result<Option<ImageRecord>, StoreError> {
        let mut records = lock(&self.records);
        let entry = records
            .entry(keys.image_id.clone())
            .or_insert_with(|| Entry::Record(ImageRecord::new(keys.clone())));
        match entry {
            Entry::Tombstone => Ok(None),
            Entry::Record(record) if record.keys.sku != keys.sku => Err(StoreError::Malformed {
                key: format!("IMAGE#{}", keys.image_id),
                problem: format!("the image belongs to another product than {}", keys.sku),
            }),
            Entry::Record(record) => {
                change(record);
                Ok(Some(record.clone()))
            }
        }
    }
}

impl ImageRecords for InMemoryImageRecords {
    async fn record_verdict(
        &self,
        keys: &ImageKeys,
        verdict: &ImageVerdict,
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.upsert(keys, |record| record.verdict = Some(*verdict))
    }

    async fn mark_thumbnails(
        &self,
        keys: &ImageKeys,
        thumbnails: &[StoredThumbnail],
    ) -> Result<Option<ImageRecord>, StoreError> {
        self.upsert(keys, |record| {
            record.thumbnails = Some(thumbnails.to_vec());
        })
    }

    async fn get(&self, image_id: &ImageId) -> Result<Option<ImageRecord>, StoreError> {
        Ok(match lock(&self.records).get(image_id) {
            Some(Entry::Record(record)) => Some(record.clone()),
            Some(Entry::Tombstone) | None => None,
        })
    }

    async fn delete(&self, image_id: &ImageId) -> Result<(), StoreError> {
        lock(&self.records).insert(image_id.clone(), Entry::Tombstone);
        Ok(())
    }
}

/// Products' images in memory; a product exists once [`add_product`](Self::add_product)ed.
#[derive(Debug, Default)]
pub struct InMemoryProductImages {
    products: Mutex<HashSet<Sku>>,
    images: Mutex<HashMap<Sku, Vec<ProductImage>>>,
    guard: Option<Arc<Mutex<HashMap<ImageId, Entry>>>>,
}

impl InMemoryProductImages {
    /// Products whose adds check that the image's record in `records` stands, as
    /// [`DynamoProductImages::guarded_by`](super::DynamoProductImages::guarded_by)'s do.
    pub fn guarded_by(records: &InMemoryImageRecords) -> Self {
        Self {
            guard: Some(Arc::clone(&records.records)),
            ..Self::default()
        }
    }

    /// Makes `sku` a product (with no images).
    pub fn add_product(&self, sku: &Sku) {
        lock(&self.products).insert(sku.clone());
    }
}

impl ProductImages for InMemoryProductImages {
    async fn add(&self, sku: &Sku, image: &ProductImage) -> Result<ImageAdded, StoreError> {
        // Held through the write, as the transaction's ConditionCheck is.
        let records = self.guard.as_deref().map(lock);
        if let Some(records) = &records
            && !matches!(records.get(&image.image_id), Some(Entry::Record(_)))
        {
            return Ok(ImageAdded::Deleted);
        }
        if !lock(&self.products).contains(sku) {
            return Ok(ImageAdded::NoProduct);
        }
        let mut images = lock(&self.images);
        let list = images.entry(sku.clone()).or_default();
        if list.iter().any(|i| i.image_id == image.image_id) {
            return Ok(ImageAdded::AlreadyPresent);
        }
        list.push(image.clone());
        Ok(ImageAdded::Added)
    }

    async fn remove(&self, sku: &Sku, image_id: &ImageId) -> Result<bool, StoreError> {
        let mut images = lock(&self.images);
        let Some(list) = images.get_mut(sku) else {
            return Ok(false);
        };
        let before = list.len();
        list.retain(|i| &i.image_id != image_id);
        Ok(list.len() != before)
    }

    async fn list(&self, sku: &Sku) -> Result<Vec<ProductImage>, StoreError> {
        Ok(lock(&self.images).get(sku).cloned().unwrap_or_default())
    }
}
