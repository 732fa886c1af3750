//! image-checker's judgement of an upload from its first bytes: the format from the magic
//! bytes (never the key's extension or the declared content type), the dimensions from the
//! header, and the limits — without decoding a pixel or allocating by what the header
//! claims, so a decompression bomb costs what its header costs.
//!
//! The format is sniffed by `image::guess_format` (the image-rs signature table, which also
//! names the formats we refuse); the dimensions are read by `imagesize` (header-only, seeks
//! through a cursor over the slice, so a short or lying header is an error, not a panic),
//! after the few structural checks it leaves out (PNG's `IHDR`, WebP's chunk tag).

use std::cmp::min;

use super::{ImageFormat, ImageVerdict, MediaLimits, RejectReason};

/// How many leading bytes [`inspect`] needs (image-checker's ranged GET): PNG and WebP have
/// their dimensions within the first 30 bytes, but a JPEG's frame header comes after its
/// metadata segments (EXIF up to 64 KiB, ICC profiles, XMP), which phones fill; 256 KiB costs
/// the same one GET.
pub const HEADER_BYTES: u64 = 256 * 1024;

/// PNG's largest width or height (2^31 - 1, by the specification).
const PNG_MAX_SIDE: usize = 0x7FFF_FFFF;

/// Judges an upload from `header` (its first bytes, up to [`HEADER_BYTES`]; the whole object
/// when shorter) and `object_size` (its size in bytes, from the event).
///
/// In order: larger than `max_bytes` → `TOO_LARGE` (the header is not even looked at); no
/// known image signature → `NOT_AN_IMAGE`; a known one other than PNG, JPEG or WebP →
/// `UNSUPPORTED_FORMAT`; a header that is broken or ends before the dimensions → `CORRUPT`
/// (also zero width or height); a side over `max_dimension` or more than `max_pixels` pixels
/// → `TOO_MANY_PIXELS`. Never panics, whatever the bytes.
pub fn inspect(header: &[u8], object_size: u64, limits: &MediaLimits) -> ImageVerdict {
    if object_size > limits.max_bytes {
        return ImageVerdict::rejected(RejectReason::TooLarge);
    }
    // Bytes past the object's size are not the object's (a caller passing a stale buffer).
    let header = header
        .get(..usize::try_from(object_size).map_or(header.len(), |n| min(n, header.len())))
        .unwrap_or(header);
    let format = match image::guess_format(header) {
        Ok(image::ImageFormat::Png) => ImageFormat::Png,
        Ok(image::ImageFormat::Jpeg) => ImageFormat::Jpeg,
        Ok(image::ImageFormat::WebP) => ImageFormat::Webp,
        Ok(_) => return ImageVerdict::rejected(RejectReason::UnsupportedFormat),
        Err(_) => return ImageVerdict::rejected(RejectReason::NotAnImage),
    };
    let Some((width, height)) = dimensions(format, header) else {
        return ImageVerdict::rejected(RejectReason::Corrupt);
    };
    if width == 0 || height == 0 {
        return ImageVerdict::rejected(RejectReason::Corrupt);
    }
    // u32 × u32 fits a u64: no overflow whatever the header says.
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_dimension || height > limits.max_dimension || pixels > limits.max_pixels {
        return ImageVerdict::rejected(RejectReason::TooManyPixels);
    }
    ImageVerdict::Accepted {
        format,
        width,
        height,
        bytes: object_size,
    }
}

/// Width and height from the header of `format`, `None` when it is broken or cut short.
fn dimensions(format: ImageFormat, header: &[u8]) -> Option<(u32, u32)> {
    match format {
        ImageFormat::Png => {
            // The first chunk must be a 13-byte IHDR (imagesize reads its offsets blindly).
            if header.get(8..16) != Some(b"\x00\x00\x00\x0dIHDR".as_slice()) {
                return None;
            }
            let size = imagesize::blob_size(header).ok()?;
            if size.width > PNG_MAX_SIDE || size.height > PNG_MAX_SIDE {
                return None;
            }
            Some((
                u32::try_from(size.width).ok()?,
                u32::try_from(size.height).ok()?,
            ))
        }
        ImageFormat::Jpeg => {
            let size = imagesize::blob_size(header).ok()?;
            Some((
                u32::try_from(size.width).ok()?,
                u32::try_from(size.height).ok()?,
            ))
        }
        ImageFormat::Webp => {
            let chunk = header.get(12..16)?;
            // The chunk's own signature before its size fields: a lossy frame's start code,
            // a lossless stream's 0x2f byte (VP8X's canvas size needs none).
            let signed = match chunk {
                b"VP8 " => header.get(23..26) == Some([0x9d, 0x01, 0x2a].as_slice()),
                b"VP8L" => header.get(20) == Some(&0x2f),
                b"VP8X" => true,
                _ => false,
            };
            if !signed {
                return None;
            }
            let size = imagesize::blob_size(header).ok()?;
            let (mut width, mut height) = (
                u32::try_from(size.width).ok()?,
                u32::try_from(size.height).ok()?,
            );
            if chunk == b"VP8 " {
                // A lossy frame's 16 bits are 14 of size and 2 of upscaling hint, which
                // imagesize does not strip.
                width &= 0x3FFF;
                height &= 0x3FFF;
            }
            Some((width, height))
        }
    }
}
