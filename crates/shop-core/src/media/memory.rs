//! media: the in-memory adapters (unit tests and the `fakes` feature).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Mutex;

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

/// The image records in memory, by image id.
#[derive(Debug, Default)]
pub struct InMemoryImageRecords {
    records: Mutex<HashMap<ImageId, ImageRecord>>,
}

impl InMemoryImageRecords {
    /// Applies `change` to the record of `keys` (created when missing) and returns it.
    fn upsert(&self, keys: &ImageKeys, change: impl FnOnce(&mut ImageRecord)) -> ImageRecord {
        let mut records = lock(&self.records);
        let record = records
            .entry(keys.image_id.clone())
            .or_insert_with(|| ImageRecord::new(keys.clone()));
        change(record);
        record.clone()
    }
}

impl ImageRecords for InMemoryImageRecords {
    async fn record_verdict(
        &self,
        keys: &ImageKeys,
        verdict: &ImageVerdict,
    ) -> Result<ImageRecord, StoreError> {
        Ok(self.upsert(keys, |record| record.verdict = Some(*verdict)))
    }

    async fn mark_thumbnails(
        &self,
        keys: &ImageKeys,
        thumbnails: &[StoredThumbnail],
    ) -> Result<ImageRecord, StoreError> {
        Ok(self.upsert(keys, |record| {
            record.thumbnails = Some(thumbnails.to_vec());
        }))
    }

    async fn get(&self, image_id: &ImageId) -> Result<Option<ImageRecord>, StoreError> {
        Ok(lock(&self.records).get(image_id).cloned())
    }

    async fn delete(&self, image_id: &ImageId) -> Result<(), StoreError> {
        lock(&self.records).remove(image_id);
        Ok(())
    }
}

/// Products' images in memory; a product exists once [`add_product`](Self::add_product)ed.
#[derive(Debug, Default)]
pub struct InMemoryProductImages {
    products: Mutex<HashSet<Sku>>,
    images: Mutex<HashMap<Sku, Vec<ProductImage>>>,
}

impl InMemoryProductImages {
    /// Makes `sku` a product (with no images).
    pub fn add_product(&self, sku: &Sku) {
        lock(&self.products).insert(sku.clone());
    }
}

impl ProductImages for InMemoryProductImages {
    async fn add(&self, sku: &Sku, image: &ProductImage) -> Result<ImageAdded, StoreError> {
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
