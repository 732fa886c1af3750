use std::sync::LazyLock;
use std::time::{Duration, Instant};

use image::{DynamicImage, GenericImageView as _, Rgb, Rgba, RgbaImage};

use super::samples::{self, crc32, gradient, png_header};
use super::thumbnail::{decode, fit};
use super::*;
use crate::test_support::{assert_invalid, settings_from, sku};

// ---- fixtures: real images made in memory ----

/// `image` as `format` ([`samples::encoded`]).
fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    samples::encoded(image, format).unwrap()
}

static PNG_1200X800: LazyLock<Vec<u8>> =
    LazyLock::new(|| encode(&gradient(1200, 800), image::ImageFormat::Png));
static JPEG_1200X800: LazyLock<Vec<u8>> =
    LazyLock::new(|| encode(&gradient(1200, 800), image::ImageFormat::Jpeg));

fn len_u64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap()
}

/// [`inspect`] of a whole file under the default limits.
fn verdict(bytes: &[u8]) -> ImageVerdict {
    inspect(bytes, len_u64(bytes), &MediaLimits::default())
}

fn rejected(reason: RejectReason) -> ImageVerdict {
    ImageVerdict::rejected(reason)
}

/// A WebP header with a VP8X chunk declaring a `width` × `height` canvas.
fn webp_vp8x_header(width: u32, height: u32) -> Vec<u8> {
    let mut webp = b"RIFF".to_vec();
    webp.extend_from_slice(&22_u32.to_le_bytes());
    webp.extend_from_slice(b"WEBPVP8X");
    webp.extend_from_slice(&10_u32.to_le_bytes());
    webp.extend_from_slice(&[0, 0, 0, 0]);
    webp.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    webp.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    webp
}

/// A fixed-seed linear congruential generator (Knuth's MMIX constants): reproducible noise.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> usize {
        usize::try_from(self.next() % n).unwrap()
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| u8::try_from(self.next() & 0xFF).unwrap())
            .collect()
    }
}

// ---- ids and keys ----

#[test]
fn generated_image_ids_are_valid_and_distinct() {
    let a = ImageId::generate();
    let b = ImageId::generate();
    assert_ne!(a, b);
    assert_eq!(ImageId::parse(a.as_str()), Ok(a.clone()));
    assert_eq!(a.as_str().len(), 36);
    assert!(a.as_str().starts_with("img_"), "{a}");
}

#[test]
fn image_ids_reject_everything_else() {
    let good = format!("img_{}", "0123456789abcdef".repeat(2));
    assert!(ImageId::parse(&good).is_ok());
    for bad in [
        String::new(),
        "img_".to_owned(),
        good.to_uppercase(),
        good.replace("img_", "IMG_"),
        format!("{good}0"),
        good[..good.len() - 1].to_owned(),
        good.replace('a', "g"),
        good.replace('a', "/"),
        format!("img_{}", "00".repeat(15) + ".."),
    ] {
        assert!(ImageId::parse(&bad).is_err(), "{bad:?}");
    }
    // Deserializing validates too.
    assert!(serde_json::from_str::<ImageId>("\"img_x\"").is_err());
    assert_eq!(
        serde_json::from_str::<ImageId>(&format!("\"{good}\"")).ok(),
        ImageId::parse(&good).ok()
    );
}

fn keys() -> ImageKeys {
    ImageKeys::new(
        sku("TSHIRT-BLK-M"),
        ImageId::parse("img_0123456789abcdef0123456789abcdef").unwrap(),
    )
}

#[test]
fn the_key_layout() {
    let keys = keys();
    assert_eq!(
        keys.upload_key(),
        "uploads/TSHIRT-BLK-M/img_0123456789abcdef0123456789abcdef"
    );
    assert_eq!(
        keys.thumbnail_prefix(),
        "thumbnails/TSHIRT-BLK-M/img_0123456789abcdef0123456789abcdef/"
    );
    assert_eq!(
        keys.thumbnail_keys(),
        vec![
            (
                128,
                "thumbnails/TSHIRT-BLK-M/img_0123456789abcdef0123456789abcdef/128.jpg".to_owned()
            ),
            (
                512,
                "thumbnails/TSHIRT-BLK-M/img_0123456789abcdef0123456789abcdef/512.jpg".to_owned()
            ),
        ]
    );
    // An upload key parses back, as itself or as S3 sends it in an event.
    assert_eq!(
        ImageKeys::parse_upload_key(&keys.upload_key()),
        Ok(keys.clone())
    );
    assert_eq!(
        ImageKeys::from_event_key(&keys.upload_key()),
        Ok(keys.clone())
    );
    assert_eq!(
        ImageKeys::from_event_key("uploads%2FTSHIRT-BLK-M%2Fimg_0123456789abcdef0123456789abcdef"),
        Ok(keys)
    );
}

#[test]
fn hostile_keys_are_rejected() {
    let id = "img_0123456789abcdef0123456789abcdef";
    let long = format!("uploads/SKU/{}", "a".repeat(5000));
    let cases = [
        String::new(),
        "uploads/".to_owned(),
        "uploads/../x".to_owned(),
        format!("uploads/../{id}"),
        format!("uploads/SKU/../{id}"),
        "uploads/SKU/".to_owned(),
        format!("uploads//{id}"),
        format!("uploads/SKU/{id}/"),
        format!("uploads/SKU/{id}/extra"),
        format!("uploads/SKU/SKU2/{id}"),
        format!("/uploads/SKU/{id}"),
        format!("x/uploads/SKU/{id}"),
        format!("thumbnails/SKU/{id}/128.jpg"),
        format!("uploads/sku/{id}"),
        format!("uploads/SKU/{id}.png"),
        format!("uploads/SKU/{id} "),
        format!("uploads/SKU/{id}\0"),
        format!("uploads/SKU\\..\\{id}"),
        long,
    ];
    for key in &cases {
        assert!(ImageKeys::parse_upload_key(key).is_err(), "{key:?}");
        assert!(ImageKeys::from_event_key(key).is_err(), "event {key:?}");
    }
    // Encoded as S3 would: decoded once, then the same grammar.
    for raw in [
        format!("uploads/%2E%2E/{id}"),
        format!("uploads/%2e%2e%2F{id}"),
        format!("uploads/SKU%2F..%2F{id}"),
        format!("uploads/SKU/{id}%2Fextra"),
        format!("uploads/SKU/{id}%00"),
        format!("uploads/SKU/{id}+"),
        format!("uploads/SKU%252F..%252F{id}"),
        format!("uploads/SKU/{id}%"),
        format!("uploads/SKU/{id}%2"),
        format!("uploads/SKU/{id}%zz"),
        format!("uploads/SKU/{id}%+1"),
        format!("uploads/SKU/{id}%C3%28"),
        "uploads%2F..%2F..%2Fetc%2Fpasswd".to_owned(),
    ] {
        assert!(ImageKeys::from_event_key(&raw).is_err(), "{raw:?}");
    }
    // The error names the key, cut short.
    let err = ImageKeys::parse_upload_key(&"x".repeat(5000)).unwrap_err();
    assert!(err.0.len() <= 100, "{}", err.0.len());
}

// ---- settings and wire names ----

#[test]
fn limits_default_and_read_from_the_environment() {
    assert_eq!(
        settings_from::<MediaLimits>(&[]),
        Ok(MediaLimits::default())
    );
    assert_eq!(
        MediaLimits::default(),
        MediaLimits {
            max_bytes: 10_485_760,
            max_pixels: 40_000_000,
            max_dimension: 12_000
        }
    );
    let vars = [
        ("IMAGE_MAX_BYTES", "1048576"),
        ("IMAGE_MAX_PIXELS", "1000000"),
        ("IMAGE_MAX_DIMENSION", " 2000 "),
    ];
    assert_eq!(
        settings_from::<MediaLimits>(&vars),
        Ok(MediaLimits {
            max_bytes: 1_048_576,
            max_pixels: 1_000_000,
            max_dimension: 2000
        })
    );
    assert_eq!(MediaLimits::default().decode_budget(), 320_000_000);
    for (name, value) in [
        ("IMAGE_MAX_BYTES", "0"),
        ("IMAGE_MAX_BYTES", "52428801"),
        ("IMAGE_MAX_BYTES", "10MiB"),
        ("IMAGE_MAX_PIXELS", "100000001"),
        ("IMAGE_MAX_PIXELS", "-1"),
        ("IMAGE_MAX_DIMENSION", "65536"),
        ("IMAGE_MAX_DIMENSION", "0"),
    ] {
        assert_invalid::<MediaLimits>(&vars, name, value);
    }
}

#[test]
fn wire_names_are_explicit() {
    let reasons = [
        (RejectReason::NotAnImage, "NOT_AN_IMAGE"),
        (RejectReason::UnsupportedFormat, "UNSUPPORTED_FORMAT"),
        (RejectReason::TooLarge, "TOO_LARGE"),
        (RejectReason::TooManyPixels, "TOO_MANY_PIXELS"),
        (RejectReason::Corrupt, "CORRUPT"),
    ];
    for (reason, name) in reasons {
        assert_eq!(serde_json::to_value(reason).unwrap(), name);
        assert_eq!(reason.as_str(), name);
        assert_eq!(
            serde_json::from_value::<RejectReason>(serde_json::json!(name)).ok(),
            Some(reason)
        );
    }
    for format in ImageFormat::ALL {
        assert_eq!(serde_json::to_value(format).unwrap(), format.as_str());
        assert!(ACCEPTED_CONTENT_TYPES.contains(&format.content_type()));
    }
    let accepted = ImageVerdict::Accepted {
        format: ImageFormat::Jpeg,
        width: 1200,
        height: 800,
        bytes: 1234,
    };
    assert_eq!(
        serde_json::to_value(accepted).unwrap(),
        serde_json::json!({"verdict": "ACCEPTED", "format": "JPEG", "width": 1200, "height": 800, "bytes": 1234})
    );
    assert_eq!(
        serde_json::to_value(rejected(RejectReason::TooManyPixels)).unwrap(),
        serde_json::json!({"verdict": "REJECTED", "reason": "TOO_MANY_PIXELS"})
    );
    let back: ImageVerdict =
        serde_json::from_value(serde_json::json!({"verdict": "REJECTED", "reason": "CORRUPT"}))
            .unwrap();
    assert_eq!(back, rejected(RejectReason::Corrupt));
}

#[test]
fn content_types_name_formats_but_do_not_judge_bytes() {
    assert_eq!(
        ImageFormat::from_content_type("image/png"),
        Some(ImageFormat::Png)
    );
    assert_eq!(
        ImageFormat::from_content_type("Image/JPEG; charset=binary"),
        Some(ImageFormat::Jpeg)
    );
    assert_eq!(
        ImageFormat::from_content_type("image/webp"),
        Some(ImageFormat::Webp)
    );
    for other in ["image/gif", "text/plain", "", "image/png2", "image/svg+xml"] {
        assert_eq!(ImageFormat::from_content_type(other), None, "{other:?}");
    }
}

// ---- inspect ----

#[test]
fn real_png_jpeg_and_webp_are_accepted_with_their_dimensions() {
    let webp = encode(&gradient(300, 200), image::ImageFormat::WebP);
    for (bytes, format, width, height) in [
        (&*PNG_1200X800, ImageFormat::Png, 1200, 800),
        (&*JPEG_1200X800, ImageFormat::Jpeg, 1200, 800),
        (&webp, ImageFormat::Webp, 300, 200),
    ] {
        assert_eq!(
            verdict(bytes),
            ImageVerdict::Accepted {
                format,
                width,
                height,
                bytes: len_u64(bytes),
            }
        );
        // The header alone is enough: the checker's ranged GET.
        let header = &bytes[..bytes.len().min(usize::try_from(HEADER_BYTES).unwrap())];
        assert_eq!(
            inspect(header, len_u64(bytes), &MediaLimits::default()),
            verdict(bytes)
        );
        // PNG and WebP declare their size within the first 30 bytes.
        if format != ImageFormat::Jpeg {
            assert_eq!(
                inspect(&bytes[..30], len_u64(bytes), &MediaLimits::default()),
                verdict(bytes)
            );
        }
    }
}

#[test]
fn a_jpeg_with_large_metadata_before_its_frame_header_is_read() {
    // Four 60 KiB segments (EXIF, two of an ICC profile, XMP) before the encoder's own, as a
    // phone writes them: the frame header is 240 KiB in, the file longer than the header read.
    let jpeg = &*JPEG_1200X800;
    let mut big = jpeg[..2].to_vec();
    for marker in [0xE1_u8, 0xE2, 0xE2, 0xE1] {
        big.extend_from_slice(&[0xFF, marker]);
        big.extend_from_slice(&61_442_u16.to_be_bytes());
        big.extend(std::iter::repeat_n(0x41_u8, 61_440));
    }
    big.extend_from_slice(&jpeg[2..]);
    assert!(len_u64(&big) > HEADER_BYTES);
    let header = &big[..usize::try_from(HEADER_BYTES).unwrap()];
    assert_eq!(
        inspect(header, len_u64(&big), &MediaLimits::default()),
        ImageVerdict::Accepted {
            format: ImageFormat::Jpeg,
            width: 1200,
            height: 800,
            bytes: len_u64(&big)
        }
    );
}

#[test]
fn text_named_png_is_not_an_image() {
    let text = b"name,price\nT-shirt,19.99\n".to_vec();
    assert_eq!(verdict(&text), rejected(RejectReason::NotAnImage));
    assert_eq!(verdict(b""), rejected(RejectReason::NotAnImage));
    assert_eq!(
        inspect(b"", 0, &MediaLimits::default()),
        rejected(RejectReason::NotAnImage)
    );
    // An HTML page, a script: also no image.
    assert_eq!(
        verdict(b"<html><script>alert(1)</script></html>"),
        rejected(RejectReason::NotAnImage)
    );
}

#[test]
fn other_image_formats_are_unsupported() {
    // GIF: signature and logical screen descriptor (10 x 10).
    let gif = b"GIF89a\x0a\x00\x0a\x00\x00\x00\x00;".to_vec();
    // BMP: "BM", file size, reserved, offset, then a BITMAPINFOHEADER's start.
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0]);
    let tiff = b"II*\x00\x08\x00\x00\x00".to_vec();
    for bytes in [gif, bmp, tiff] {
        assert_eq!(verdict(&bytes), rejected(RejectReason::UnsupportedFormat));
    }
}

#[test]
fn too_large_is_decided_from_the_size_alone() {
    let limits = MediaLimits::default();
    assert_eq!(
        inspect(&PNG_1200X800, limits.max_bytes + 1, &limits),
        rejected(RejectReason::TooLarge)
    );
    // Even with no bytes at all: the header is not read.
    assert_eq!(
        inspect(b"", u64::MAX, &limits),
        rejected(RejectReason::TooLarge)
    );
    // Exactly the limit is fine.
    let small = MediaLimits {
        max_bytes: len_u64(&PNG_1200X800),
        ..limits
    };
    assert!(inspect(&PNG_1200X800, small.max_bytes, &small).is_accepted());
}

#[test]
fn a_decompression_bomb_header_is_rejected_without_allocating() {
    let bomb = png_header(100_000, 100_000);
    let started = Instant::now();
    assert_eq!(verdict(&bomb), rejected(RejectReason::TooManyPixels));
    // A side over the limit, and pixels over the limit with sides within.
    assert_eq!(
        verdict(&png_header(12_001, 10)),
        rejected(RejectReason::TooManyPixels)
    );
    assert_eq!(
        verdict(&png_header(12_000, 4_000)),
        rejected(RejectReason::TooManyPixels)
    );
    assert_eq!(
        verdict(&png_header(u32::MAX >> 1, u32::MAX >> 1)),
        rejected(RejectReason::TooManyPixels)
    );
    assert_eq!(
        verdict(&webp_vp8x_header(16_384, 16_384)),
        rejected(RejectReason::TooManyPixels)
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // Within the limits the same headers are accepted (the header is all inspect reads).
    assert!(verdict(&png_header(8_000, 5_000)).is_accepted());
    assert!(verdict(&webp_vp8x_header(4_000, 3_000)).is_accepted());
}

#[test]
fn the_tests_crc_is_pngs() {
    // The encoder's own IHDR chunk: our CRC must match its stored one.
    let png = &*PNG_1200X800;
    assert_eq!(&png[12..16], b"IHDR");
    let stored = u32::from_be_bytes(png[29..33].try_into().unwrap());
    assert_eq!(crc32(&png[12..29]), stored);
    // Signature, length, type and dimensions as the encoder writes them.
    assert_eq!(&png_header(1200, 800)[..24], &png[..24]);
}

#[test]
fn broken_headers_are_corrupt_never_a_panic() {
    let jpeg = &*JPEG_1200X800;
    // Cut anywhere before its frame header: corrupt (or too short to be a JPEG at all).
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    for len in 0..sof + 9 {
        let cut = &jpeg[..len];
        let v = inspect(cut, len_u64(cut), &MediaLimits::default());
        assert!(
            v == rejected(RejectReason::Corrupt) || v == rejected(RejectReason::NotAnImage),
            "cut at {len}: {v:?}"
        );
    }
    for bytes in [
        // Segment lengths of 0 and 1 (would walk backwards), a missing marker.
        b"\xFF\xD8\xFF\xE0\x00\x00\xFF\xC0\x00\x11\x08\x00\x10\x00\x10\x03".to_vec(),
        b"\xFF\xD8\xFF\xE0\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\x00\x00".to_vec(),
        // A frame header declaring 0 x 0.
        b"\xFF\xD8\xFF\xC0\x00\x11\x08\x00\x00\x00\x00\x03".to_vec(),
        // PNG: signature only; a first chunk that is not IHDR; IHDR cut short.
        b"\x89PNG\r\n\x1a\n".to_vec(),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIDAT\x00\x00\x00\x01\x00\x00\x00\x01".to_vec(),
        png_header(10, 10)[..20].to_vec(),
        png_header(0, 10),
        png_header(u32::MAX, 10),
        // WebP: no chunk, an unknown chunk, VP8 without its start code, VP8L without its byte.
        b"RIFF\x04\x00\x00\x00WEBP".to_vec(),
        b"RIFF\x0c\x00\x00\x00WEBPVP9 \x00\x00\x00\x00".to_vec(),
        b"RIFF\x20\x00\x00\x00WEBPVP8 \x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x10\x00"
            .to_vec(),
        b"RIFF\x20\x00\x00\x00WEBPVP8L\x10\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        webp_vp8x_header(10, 10)[..26].to_vec(),
    ] {
        assert_eq!(
            verdict(&bytes),
            rejected(RejectReason::Corrupt),
            "{bytes:?}"
        );
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Lcg(0x5EED_0016);
    let magics: [&[u8]; 4] = [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
        b"\xFF\xD8\xFF",
        b"RIFF\x00\x00\x00\x00WEBPVP8X",
        b"",
    ];
    let limits = MediaLimits::default();
    for case in 0..2_000 {
        let len = rng.below(256);
        let mut bytes = magics[case % magics.len()].to_vec();
        bytes.extend(rng.bytes(len));
        let size = len_u64(&bytes) + u64::try_from(rng.below(4)).unwrap();
        // Any verdict will do; a panic fails the test.
        let _ = inspect(&bytes, size, &limits);
        let _ = inspect(&bytes, u64::try_from(rng.below(4)).unwrap(), &limits);
    }
}

#[test]
fn random_bytes_never_panic_the_decoders() {
    // Small limits so that a random header that passes cannot ask for much.
    let limits = MediaLimits {
        max_bytes: 1 << 20,
        max_pixels: 1 << 16,
        max_dimension: 512,
    };
    let mut rng = Lcg(0xDEC0_DE16);
    let small = gradient(100, 60);
    let seeds = [
        encode(&small, image::ImageFormat::Png),
        encode(&small, image::ImageFormat::Jpeg),
        encode(&small, image::ImageFormat::WebP),
    ];
    for case in 0..300 {
        // A real file, cut somewhere in its second half, with a few bytes changed.
        let seed = &seeds[case % seeds.len()];
        let keep = seed.len() / 2 + rng.below(u64::try_from(seed.len() / 2 + 1).unwrap());
        let mut bytes = seed[..keep].to_vec();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(u64::try_from(bytes.len()).unwrap());
            bytes[i] = u8::try_from(rng.next() & 0xFF).unwrap();
        }
        let _ = thumbnails(&bytes, &limits);
    }
}

// ---- thumbnails ----

#[test]
fn thumbnails_fit_the_longest_side_and_decode_back() {
    let thumbs = thumbnails(&JPEG_1200X800, &MediaLimits::default()).unwrap();
    let sizes: Vec<_> = thumbs
        .iter()
        .map(|t| (t.size_px, t.width, t.height))
        .collect();
    assert_eq!(sizes, vec![(128, 128, 85), (512, 512, 341)]);
    for thumb in &thumbs {
        assert_eq!(&thumb.jpeg[..3], b"\xFF\xD8\xFF");
        let back =
            image::load_from_memory_with_format(&thumb.jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!(back.dimensions(), (thumb.width, thumb.height));
        assert_eq!(
            verdict(&thumb.jpeg),
            ImageVerdict::Accepted {
                format: ImageFormat::Jpeg,
                width: thumb.width,
                height: thumb.height,
                bytes: len_u64(&thumb.jpeg)
            }
        );
    }
    // PNG and WebP sources, portrait.
    for format in [image::ImageFormat::Png, image::ImageFormat::WebP] {
        let bytes = encode(&gradient(300, 600), format);
        let sizes: Vec<_> = thumbnails(&bytes, &MediaLimits::default())
            .unwrap()
            .iter()
            .map(|t| (t.width, t.height))
            .collect();
        assert_eq!(sizes, vec![(64, 128), (256, 512)], "{format:?}");
    }
}

#[test]
fn small_images_are_not_upscaled() {
    let bytes = encode(&gradient(100, 60), image::ImageFormat::Png);
    let sizes: Vec<_> = thumbnails(&bytes, &MediaLimits::default())
        .unwrap()
        .iter()
        .map(|t| (t.size_px, t.width, t.height))
        .collect();
    assert_eq!(sizes, vec![(128, 100, 60), (512, 100, 60)]);
    assert_eq!(fit(1, 10_000, 128), (1, 128));
    assert_eq!(fit(128, 128, 128), (128, 128));
    assert_eq!(fit(129, 1, 128), (128, 1));
}

#[test]
fn transparency_is_flattened_onto_white() {
    let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 20, Rgba([0, 0, 0, 0])));
    let bytes = encode(&clear, image::ImageFormat::Png);
    let thumb = &thumbnails(&bytes, &MediaLimits::default()).unwrap()[0];
    let back = image::load_from_memory(&thumb.jpeg).unwrap().to_rgb8();
    let Rgb([r, g, b]) = *back.get_pixel(20, 10);
    assert!(r > 245 && g > 245 && b > 245, "{r} {g} {b}");
}

#[test]
fn a_bomb_fails_the_thumbnailer_with_a_typed_error_quickly() {
    let bomb = png_header(100_000, 100_000);
    let started = Instant::now();
    let err = thumbnails(&bomb, &MediaLimits::default()).unwrap_err();
    assert!(matches!(err, ThumbnailError::LimitExceeded(_)), "{err:?}");
    assert_eq!(err.reject_reason(), Some(RejectReason::TooManyPixels));
    // The decoder's own fence, without the header check in front of it.
    let err = decode(&bomb, ImageFormat::Png, &MediaLimits::default()).unwrap_err();
    assert!(matches!(err, ThumbnailError::LimitExceeded(_)), "{err:?}");
    // Within the side limit but over the pixel budget: our check before the allocation.
    let tight = MediaLimits {
        max_pixels: 100_000,
        ..MediaLimits::default()
    };
    let err = decode(&PNG_1200X800, ImageFormat::Png, &tight).unwrap_err();
    assert!(matches!(err, ThumbnailError::LimitExceeded(_)), "{err:?}");
    // Over the side limit: the image crate's limits.
    let narrow = MediaLimits {
        max_dimension: 1000,
        ..MediaLimits::default()
    };
    let err = decode(&JPEG_1200X800, ImageFormat::Jpeg, &narrow).unwrap_err();
    assert!(matches!(err, ThumbnailError::LimitExceeded(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn unsupported_and_broken_files_fail_typed() {
    let err = thumbnails(b"just text", &MediaLimits::default()).unwrap_err();
    assert!(matches!(err, ThumbnailError::Unsupported(_)), "{err:?}");
    let err = thumbnails(
        b"GIF89a\x0a\x00\x0a\x00\x00\x00\x00;",
        &MediaLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ThumbnailError::Unsupported(_)), "{err:?}");
    // A valid header whose pixel data is cut off.
    let cut = &PNG_1200X800[..PNG_1200X800.len() / 2];
    let err = thumbnails(cut, &MediaLimits::default()).unwrap_err();
    assert!(matches!(err, ThumbnailError::Decode(_)), "{err:?}");
    assert_eq!(err.reject_reason(), Some(RejectReason::Corrupt));
}

// ---- the stores and the publishing decision ----

fn accepted() -> ImageVerdict {
    ImageVerdict::Accepted {
        format: ImageFormat::Png,
        width: 1200,
        height: 800,
        bytes: 1000,
    }
}

fn stored_thumbnails() -> Vec<StoredThumbnail> {
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

#[tokio::test]
async fn published_once_whichever_write_comes_last() {
    for verdict_first in [true, false] {
        let records = InMemoryImageRecords::default();
        let products = InMemoryProductImages::guarded_by(&records);
        let keys = keys();
        products.add_product(&keys.sku);
        let verdict = async || records.record_verdict(&keys, &accepted()).await.unwrap();
        let mark = async || {
            records
                .mark_thumbnails(&keys, &stored_thumbnails())
                .await
                .unwrap()
        };
        let (first, last) = if verdict_first {
            (verdict().await.unwrap(), mark().await.unwrap())
        } else {
            (mark().await.unwrap(), verdict().await.unwrap())
        };
        assert!(!ready_to_publish(&first), "verdict first: {verdict_first}");
        assert!(ready_to_publish(&last), "verdict first: {verdict_first}");
        assert_eq!(ProductImage::from_record(&first), None);
        let image = ProductImage::from_record(&last).unwrap();
        assert_eq!(
            products.add(&keys.sku, &image).await.unwrap(),
            ImageAdded::Added
        );
        // A redelivery (or the other consumer) adds nothing.
        assert_eq!(
            products.add(&keys.sku, &image).await.unwrap(),
            ImageAdded::AlreadyPresent
        );
        assert_eq!(products.list(&keys.sku).await.unwrap(), vec![image.clone()]);
        assert_eq!(
            records.get(&keys.image_id).await.unwrap().as_ref(),
            Some(&last)
        );
        // A product that is gone takes no image.
        assert_eq!(
            products.add(&sku("GONE"), &image).await.unwrap(),
            ImageAdded::NoProduct
        );
        // DELETE: everything goes, twice is fine.
        records.delete(&keys.image_id).await.unwrap();
        assert!(products.remove(&keys.sku, &keys.image_id).await.unwrap());
        assert!(!products.remove(&keys.sku, &keys.image_id).await.unwrap());
        records.delete(&keys.image_id).await.unwrap();
        assert_eq!(records.get(&keys.image_id).await.unwrap(), None);
        // What a consumer still under way writes after the DELETE changes nothing: the
        // tombstone refuses the record's writes, and the guard the publish that read the
        // record before the DELETE.
        assert_eq!(verdict().await, None);
        assert_eq!(mark().await, None);
        assert_eq!(records.get(&keys.image_id).await.unwrap(), None);
        assert_eq!(
            products.add(&keys.sku, &image).await.unwrap(),
            ImageAdded::Deleted
        );
        assert_eq!(products.list(&keys.sku).await.unwrap(), Vec::new());
    }
}

#[tokio::test]
async fn an_unguarded_store_adds_without_the_records_and_a_record_keeps_its_product() {
    let records = InMemoryImageRecords::default();
    let products = InMemoryProductImages::default();
    let keys = keys();
    products.add_product(&keys.sku);
    let image = ProductImage {
        image_id: keys.image_id.clone(),
        format: ImageFormat::Png,
        width: 1200,
        height: 800,
        thumbnails: stored_thumbnails(),
    };
    // Readers' stores (catalog-api, images-api) are unguarded: no record needed.
    assert_eq!(
        products.add(&keys.sku, &image).await.unwrap(),
        ImageAdded::Added
    );
    records.record_verdict(&keys, &accepted()).await.unwrap();
    let hijack = ImageKeys::new(sku("TEE-1"), keys.image_id.clone());
    let refused = records.record_verdict(&hijack, &accepted()).await;
    assert!(
        matches!(refused, Err(StoreError::Malformed { .. })),
        "{refused:?}"
    );
}

#[test]
fn rejected_or_partly_thumbnailed_images_are_not_published() {
    let mut record = ImageRecord::new(keys());
    assert!(!ready_to_publish(&record));
    record.thumbnails = Some(stored_thumbnails());
    record.verdict = Some(rejected(RejectReason::Corrupt));
    assert!(!ready_to_publish(&record));
    record.verdict = Some(accepted());
    assert!(ready_to_publish(&record));
    record.thumbnails = Some(stored_thumbnails()[..1].to_vec());
    assert!(!ready_to_publish(&record));
    record.thumbnails = Some(Vec::new());
    assert!(!ready_to_publish(&record));
}

#[tokio::test]
async fn the_object_fake_reads_ranges_and_deletes_by_prefix() {
    let objects = InMemoryImageObjects::default();
    let keys = keys();
    objects.insert(&keys.upload_key(), (0..=9).collect(), "image/png");
    for (size, key) in keys.thumbnail_keys() {
        objects
            .put(
                &key,
                vec![u8::try_from(size % 256).unwrap()],
                THUMBNAIL_CONTENT_TYPE,
            )
            .await
            .unwrap();
    }
    let upload = keys.upload_key();
    assert_eq!(
        objects.get_range(&upload, 0..4).await.unwrap(),
        Some(vec![0, 1, 2, 3])
    );
    assert_eq!(
        objects.get_range(&upload, 8..HEADER_BYTES).await.unwrap(),
        Some(vec![8, 9])
    );
    assert_eq!(
        objects.get_range(&upload, 20..30).await.unwrap(),
        Some(vec![])
    );
    assert_eq!(objects.get_range("uploads/none", 0..4).await.unwrap(), None);
    // `get` stops one byte past the limit.
    assert_eq!(
        objects.get(&upload, 100).await.unwrap().map(|b| b.len()),
        Some(10)
    );
    assert_eq!(
        objects.get(&upload, 3).await.unwrap().map(|b| b.len()),
        Some(4)
    );
    assert_eq!(
        objects
            .delete_prefix(&keys.thumbnail_prefix())
            .await
            .unwrap(),
        2
    );
    assert_eq!(objects.delete_prefix(&upload).await.unwrap(), 1);
    assert_eq!(objects.delete_prefix(&upload).await.unwrap(), 0);
    assert!(objects.keys().is_empty());
}

#[tokio::test]
async fn check_then_thumbnail_through_the_fakes() {
    // The three consumers' steps, in order, on the fakes (what the wiring will do).
    let objects = InMemoryImageObjects::default();
    let records = InMemoryImageRecords::default();
    let limits = MediaLimits::default();
    let keys = ImageKeys::new(sku("MUG-1"), ImageId::generate());
    objects.insert(&keys.upload_key(), JPEG_1200X800.clone(), "image/png");
    let event_key = keys.upload_key();
    let parsed = ImageKeys::from_event_key(&event_key).unwrap();
    // image-checker: a ranged GET and the verdict (the declared content type is ignored).
    let header = objects
        .get_range(&parsed.upload_key(), 0..HEADER_BYTES)
        .await
        .unwrap()
        .unwrap();
    let verdict = inspect(&header, len_u64(&JPEG_1200X800), &limits);
    assert!(matches!(
        verdict,
        ImageVerdict::Accepted {
            format: ImageFormat::Jpeg,
            ..
        }
    ));
    records
        .record_verdict(&parsed, &verdict)
        .await
        .unwrap()
        .unwrap();
    // thumbnailer: the whole object, the thumbnails, the marker.
    let bytes = objects
        .get(&parsed.upload_key(), limits.max_bytes)
        .await
        .unwrap()
        .unwrap();
    let thumbs = thumbnails(&bytes, &limits).unwrap();
    for thumb in &thumbs {
        objects
            .put(
                &parsed.thumbnail_key(thumb.size_px),
                thumb.jpeg.clone(),
                THUMBNAIL_CONTENT_TYPE,
            )
            .await
            .unwrap();
    }
    let stored: Vec<_> = thumbs.iter().map(Thumbnail::stored).collect();
    let record = records
        .mark_thumbnails(&parsed, &stored)
        .await
        .unwrap()
        .unwrap();
    assert!(ready_to_publish(&record));
    assert_eq!(objects.keys().len(), 3);
}
