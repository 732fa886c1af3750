//! thumbnailer's work: decode an accepted upload within a memory budget and encode a JPEG
//! of each of [`THUMBNAIL_SIZES`].
//!
//! Two fences against a bomb: the header is judged by [`inspect`] first (the same limits as
//! image-checker, before a decoder exists), then the decoder runs with `image::Limits` (width,
//! height, allocations) and the output buffer is checked against
//! [`MediaLimits::decode_budget`] before it is allocated — so a file whose header lies to the
//! first fence still fails with [`ThumbnailError::LimitExceeded`], not an out-of-memory abort.
//! Peak memory is about the object, the decoded image and the decoder's own buffers.

use std::io::Cursor;
use std::panic::AssertUnwindSafe;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder as _, ImageError, ImageReader, Limits, RgbImage};

use super::{
    ImageFormat, ImageVerdict, MediaLimits, RejectReason, StoredThumbnail, THUMBNAIL_SIZES, inspect,
};

/// JPEG quality of the thumbnails: small files, no visible blocking at these sizes.
pub const JPEG_QUALITY: u8 = 80;

/// One encoded thumbnail.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The size asked for (one of [`THUMBNAIL_SIZES`]): its longest side, unless the
    /// original is smaller.
    pub size_px: u32,
    /// Width in pixels (after the EXIF orientation is applied).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The JPEG file.
    pub jpeg: Vec<u8>,
}

impl Thumbnail {
    /// What the image record keeps of it.
    pub fn stored(&self) -> StoredThumbnail {
        StoredThumbnail {
            size_px: self.size_px,
            width: self.width,
            height: self.height,
        }
    }
}

// The bytes are not worth a log line.
impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnail")
            .field("size_px", &self.size_px)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

/// Why no thumbnails could be made. All but [`Encode`](Self::Encode) are the upload's fault
/// and permanent: retrying gives the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbnailError {
    /// Not an image, or not PNG, JPEG or WebP (or a variant the decoder lacks, e.g. an
    /// arithmetic-coded JPEG).
    #[error("unsupported image: {0}")]
    Unsupported(String),
    /// Over the bytes, pixels, side or memory limits.
    #[error("image over the limits: {0}")]
    LimitExceeded(String),
    /// The data is broken.
    #[error("image cannot be decoded: {0}")]
    Decode(String),
    /// Encoding the JPEG failed (our side).
    #[error("thumbnail cannot be encoded: {0}")]
    Encode(String),
}

impl ThumbnailError {
    /// The rejection to record for this failure; `None` when the upload is not at fault.
    pub fn reject_reason(&self) -> Option<RejectReason> {
        match self {
            Self::Unsupported(_) => Some(RejectReason::UnsupportedFormat),
            Self::LimitExceeded(_) => Some(RejectReason::TooManyPixels),
            Self::Decode(_) => Some(RejectReason::Corrupt),
            Self::Encode(_) => None,
        }
    }

    fn rejected(reason: RejectReason) -> Self {
        let detail = format!("header check: {reason}");
        match reason {
            RejectReason::NotAnImage | RejectReason::UnsupportedFormat => Self::Unsupported(detail),
            RejectReason::TooLarge | RejectReason::TooManyPixels => Self::LimitExceeded(detail),
            RejectReason::Corrupt => Self::Decode(detail),
        }
    }

    fn decoding(err: ImageError) -> Self {
        match err {
            ImageError::Limits(e) => Self::LimitExceeded(e.to_string()),
            ImageError::Unsupported(e) => Self::Unsupported(e.to_string()),
            other => Self::Decode(other.to_string()),
        }
    }
}

/// A JPEG thumbnail of `bytes` (a whole PNG, JPEG or WebP file) for each of
/// [`THUMBNAIL_SIZES`], smallest first: the longest side scaled to the size, the aspect kept,
/// never upscaled (a 100 px image gives 100 px thumbnails), the EXIF orientation applied and
/// transparency flattened onto white.
pub fn thumbnails(bytes: &[u8], limits: &MediaLimits) -> Result<Vec<Thumbnail>, ThumbnailError> {
    let object_size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let format = match inspect(bytes, object_size, limits) {
        ImageVerdict::Accepted { format, .. } => format,
        ImageVerdict::Rejected { reason } => return Err(ThumbnailError::rejected(reason)),
    };
    // The decoders are fuzzed upstream (and here); should one still panic on a hostile file,
    // that file is broken, not the batch: a typed error the consumer records as a rejection.
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let (image, orientation) = decode(bytes, format, limits)?;
        THUMBNAIL_SIZES
            .iter()
            .map(|&size_px| thumbnail(&image, orientation, size_px))
            .collect()
    }))
    .unwrap_or_else(|_| Err(ThumbnailError::Decode("the decoder panicked".to_owned())))
}

/// Decodes within `limits`, with the orientation its metadata asks for.
pub(super) fn decode(
    bytes: &[u8],
    format: ImageFormat,
    limits: &MediaLimits,
) -> Result<(DynamicImage, Orientation), ThumbnailError> {
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_dimension);
    decoder_limits.max_image_height = Some(limits.max_dimension);
    decoder_limits.max_alloc = Some(limits.decode_budget());
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.codec());
    reader.limits(decoder_limits);
    // Not `ImageReader::decode`: it drops the orientation. `into_decoder` checks the
    // dimensions; the output buffer is checked here, before `from_decoder` allocates it.
    let mut decoder = reader.into_decoder().map_err(ThumbnailError::decoding)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || decoder.total_bytes() > limits.decode_budget() {
        return Err(ThumbnailError::LimitExceeded(format!(
            "{width}x{height} {:?} needs {} bytes, the budget is {}",
            decoder.color_type(),
            decoder.total_bytes(),
            limits.decode_budget()
        )));
    }
    // Unreadable metadata costs the rotation, not the thumbnail.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(ThumbnailError::decoding)?;
    Ok((image, orientation))
}

/// One thumbnail: scaled first (so the rotation copies a small image), then oriented.
fn thumbnail(
    image: &DynamicImage,
    orientation: Orientation,
    size_px: u32,
) -> Result<Thumbnail, ThumbnailError> {
    let (width, height) = fit(image.width(), image.height(), size_px);
    let mut small = image.thumbnail_exact(width, height);
    small.apply_orientation(orientation);
    let rgb = flatten_on_white(&small);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| ThumbnailError::Encode(e.to_string()))?;
    Ok(Thumbnail {
        size_px,
        width: rgb.width(),
        height: rgb.height(),
        jpeg,
    })
}

/// `width` × `height` scaled so the longest side is `size` (rounded, at least 1 px), or
/// unchanged when it already fits.
pub(super) fn fit(width: u32, height: u32, size: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= size {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled =
            (u64::from(side) * u64::from(size) + u64::from(longest) / 2) / u64::from(longest);
        // At most `size`, so it fits.
        u32::try_from(scaled.max(1)).unwrap_or(size)
    };
    if width >= height {
        (size, scale(height))
    } else {
        (scale(width), size)
    }
}

/// RGB for JPEG, which has no alpha: transparent pixels become white (a product shot on a
/// transparent background stays on a light one, not on black).
fn flatten_on_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let alpha = u16::from(a);
        let over_white = |c: u8| {
            let mixed = (u16::from(c) * alpha + 255 * (255 - alpha) + 127) / 255;
            u8::try_from(mixed).unwrap_or(u8::MAX)
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}
