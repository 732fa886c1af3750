//! Images made in memory for tests (shop-core's own, the integration tests' and the bench's):
//! real PNGs and JPEGs of any size, and PNG headers that declare any size (a decompression
//! bomb costs 33 bytes). Compiled for tests and the `fakes` feature only.

use std::io::Cursor;

use image::{DynamicImage, ImageError, ImageFormat, Rgb, RgbImage};

/// A `width` × `height` RGB gradient (so an encoder has something to do).
pub fn gradient(width: u32, height: u32) -> DynamicImage {
    let scale = |value: u32, extent: u32| {
        u8::try_from(value * 255 / extent.saturating_sub(1).max(1)).unwrap_or(u8::MAX)
    };
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([scale(x, width), scale(y, height), 128])
    }))
}

/// `image` encoded as `format`.
///
/// # Errors
/// The encoder's (a format not compiled in, dimensions it cannot write).
pub fn encoded(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, ImageError> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format)?;
    Ok(out.into_inner())
}

/// A real PNG of a [`gradient`].
///
/// # Errors
/// The encoder's.
pub fn png(width: u32, height: u32) -> Result<Vec<u8>, ImageError> {
    encoded(&gradient(width, height), ImageFormat::Png)
}

/// A real JPEG of a [`gradient`].
///
/// # Errors
/// The encoder's.
pub fn jpeg(width: u32, height: u32) -> Result<Vec<u8>, ImageError> {
    encoded(&gradient(width, height), ImageFormat::Jpeg)
}

/// A PNG signature and a valid IHDR chunk (8-bit RGBA) declaring `width` × `height`, and
/// nothing else: all a header check reads.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, no filter method, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    push_chunk(&mut png, &ihdr);
    png
}

/// A whole, well-formed PNG file whose header declares `width` × `height` and whose pixel data
/// is one empty deflate block: a decompression bomb as far as the header goes.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = png_header(width, height);
    push_chunk(&mut png, b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01");
    push_chunk(&mut png, b"IEND");
    png
}

/// Appends one chunk (`type` + data, as `chunk`) with its length and CRC.
fn push_chunk(png: &mut Vec<u8>, chunk: &[u8]) {
    let data_len = u32::try_from(chunk.len().saturating_sub(4)).unwrap_or(u32::MAX);
    png.extend_from_slice(&data_len.to_be_bytes());
    png.extend_from_slice(chunk);
    png.extend_from_slice(&crc32(chunk).to_be_bytes());
}

/// CRC-32 (ISO-HDLC, PNG's), bit by bit: only a few header bytes are ever summed.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_png_s() {
        // The IEND chunk's CRC, as every PNG file ends.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn a_bomb_declares_its_size_in_a_file_the_decoder_accepts_as_png() {
        let bomb = png_bomb(100_000, 100_000);
        assert_eq!(
            imagesize::blob_size(&bomb)
                .map(|s| (s.width, s.height))
                .ok(),
            Some((100_000, 100_000))
        );
        assert_eq!(image::guess_format(&bomb).ok(), Some(ImageFormat::Png));
    }

    #[test]
    fn real_images_decode_to_their_size() {
        for bytes in [png(33, 17), jpeg(33, 17)] {
            let decoded = image::load_from_memory(&bytes.unwrap()).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (33, 17));
        }
    }
}
