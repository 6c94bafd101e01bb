//! Decoding with limits: the format is sniffed from the content (never
//! the file name), the pixel count is read from the header and checked
//! before any pixel memory is allocated, and every decoder error becomes
//! a reject with its reason.
//!
//! RGB and grey 8-bit JPEGs are decoded by libjpeg-turbo ([`turbo`]),
//! scaled in its IDCT by the smallest M/8 whose result still covers every
//! output (1/8 of a 24 MP photo for 224x224; 3/8 of a 640x480 one), so
//! the full-size picture never exists. Everything else (PNG, WebP, GIF's
//! first frame, CMYK and 12-bit JPEGs, and JPEGs libjpeg-turbo calls
//! damaged) is decoded at full size by the `image` crate (zune-jpeg for
//! JPEG).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, metadata::Orientation};

use super::Reject;
use super::geometry::{dct_eighths, needed};
use super::pixels::Pixels;
use super::spec::ResizePlan;
use super::turbo;

/// A decoded input and what was learnt from its header.
pub struct Decoded {
    /// The pixels, possibly at a DCT-reduced size.
    pub pixels: Pixels,
    /// `jpeg`, `png`, `webp` or `gif`.
    pub format: &'static str,
    /// Size in the header, stored orientation.
    pub full: (u32, u32),
    /// The EXIF orientation (none when absent or unreadable).
    pub orientation: Orientation,
    /// The embedded ICC profile.
    pub icc: Option<Vec<u8>>,
    /// The JPEG DCT scale used, in eighths (8 = full size).
    pub dct_eighths: u32,
}

/// Whether an orientation swaps width and height.
pub fn transposes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Decodes `bytes` for `plan`, or says why not.
pub fn decode(bytes: &[u8], plan: &ResizePlan) -> Result<Decoded, Reject> {
    if bytes.is_empty() {
        return Err(Reject::new("empty", "the file is empty (0 bytes)"));
    }
    let format = image::guess_format(bytes).map_err(|_| {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Reject::new(
            "unsupportedFormat",
            format!("not a JPEG, PNG, WebP or GIF image (first bytes {})", head.join(" ")),
        )
    })?;
    let name = match format {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::WebP => "webp",
        ImageFormat::Gif => "gif",
        other => {
            return Err(Reject::new(
                "unsupportedFormat",
                format!("{other:?} images are not supported (JPEG, PNG, WebP, GIF are)"),
            ));
        }
    };
    if format == ImageFormat::Jpeg {
        check_jpeg_end(bytes)?;
    }
    if format == ImageFormat::Jpeg
        && let Some(decoded) = decode_jpeg(bytes, plan)?
    {
        return Ok(decoded);
    }
    decode_generic(bytes, format, name, plan)
}

/// A JPEG must have its end-of-image marker after its last scan: zune-jpeg
/// decodes a truncated file without complaint (the missing rows grey),
/// which would pass off half a photo as a whole one. In the entropy-coded
/// data a 0xFF byte is always followed by 0x00 or a restart marker, so
/// FF D9 there is the real end; an EXIF thumbnail's own end marker comes
/// before the main scan and does not count. So the last end marker must
/// come after every start-of-scan: searched from the end marker on, not
/// for the last start-of-scan backwards through the whole entropy-coded
/// data (which has none: that search was 1.7% of a 0.3 MP image's time).
fn check_jpeg_end(bytes: &[u8]) -> Result<(), Reject> {
    let first_scan = memchr::memmem::find(bytes, &[0xFF, 0xDA]);
    let end = memchr::memmem::rfind(bytes, &[0xFF, 0xD9]);
    let scan_after = |end: usize| memchr::memmem::find(&bytes[end..], &[0xFF, 0xDA]).is_some();
    match (first_scan, end) {
        (Some(scan), Some(end)) if end > scan && !scan_after(end) => Ok(()),
        (None, _) => Err(Reject::new("corrupt", "cannot decode: no image data (no start-of-scan marker)")),
        _ => Err(Reject::new(
            "corrupt",
            "cannot decode: truncated (no end-of-image marker after the image data)",
        )),
    }
}

fn check_pixels(full: (u32, u32), plan: &ResizePlan) -> Result<(), Reject> {
    let pixels = u64::from(full.0) * u64::from(full.1);
    if pixels > plan.max_pixels {
        return Err(Reject::new(
            "tooManyPixels",
            format!(
                "the header says {}x{} = {pixels} pixels, above max_pixels {}; refused before decoding",
                full.0, full.1, plan.max_pixels
            ),
        ));
    }
    if pixels == 0 {
        return Err(Reject::new("corrupt", format!("the header says {}x{}: no pixels", full.0, full.1)));
    }
    Ok(())
}

fn corrupt(e: impl std::fmt::Display) -> Reject {
    Reject::new("corrupt", format!("cannot decode: {e}"))
}

/// The libjpeg-turbo path; `None` for JPEGs it does not take (CMYK,
/// 12-bit, or a file libjpeg-turbo reports damaged), which the generic
/// path handles as before.
fn decode_jpeg(bytes: &[u8], plan: &ResizePlan) -> Result<Option<Decoded>, Reject> {
    use jpeg_decoder::PixelFormat;
    // jpeg-decoder reads the markers up to the frame header: size, pixel
    // format, EXIF (APP1) and the ICC chunks (APP2); no pixels.
    let mut header = jpeg_decoder::Decoder::new(bytes);
    header.read_info().map_err(corrupt)?;
    let info = header.info().ok_or_else(|| corrupt("no frame header"))?;
    let full = (u32::from(info.width), u32::from(info.height));
    check_pixels(full, plan)?;
    if !matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8) {
        return Ok(None);
    }
    let orientation = exif_orientation(header.exif_data());
    let need = needed(plan.mode, &plan.sizes, full, transposes(orientation));
    let eighths = dct_eighths(full, need);
    match turbo::decode_rgb(bytes, eighths, full) {
        Ok((data, width, height)) => Ok(Some(Decoded {
            pixels: Pixels { data, width, height, alpha: false },
            format: "jpeg",
            full,
            orientation,
            icc: header.icc_profile(),
            dct_eighths: eighths,
        })),
        Err(e) => {
            // libjpeg-turbo fails on what it only warns about ("extraneous
            // bytes before marker"), which zune-jpeg decodes; its own
            // errors become the reject there.
            tracing::debug!(error = %e, "libjpeg-turbo did not decode; trying zune-jpeg");
            Ok(None)
        }
    }
}

fn exif_orientation(exif: Option<&[u8]>) -> Orientation {
    exif.and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms)
}

fn decode_generic(
    bytes: &[u8],
    format: ImageFormat,
    name: &'static str,
    plan: &ResizePlan,
) -> Result<Decoded, Reject> {
    // The header alone, without limits: the pixel check below is ours, so
    // a bomb is refused with that reason rather than a decoder's.
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.no_limits();
    let full = header.into_dimensions().map_err(corrupt)?;
    check_pixels(full, plan)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // 16-bit RGBA is 8 bytes a pixel; a decoder's own buffers come on top.
    limits.max_alloc = Some(plan.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    let (width, height) = (image.width(), image.height());
    let pixels = if image.color().has_alpha() {
        Pixels { data: image.into_rgba8().into_raw(), width, height, alpha: true }
    } else {
        Pixels { data: image.into_rgb8().into_raw(), width, height, alpha: false }
    };
    Ok(Decoded { pixels, format: name, full, orientation, icc, dct_eighths: 8 })
}

#[cfg(test)]
mod end_marker_tests {
    use super::check_jpeg_end;

    fn reason(bytes: &[u8]) -> Option<String> {
        check_jpeg_end(bytes).err().map(|r| r.reason)
    }

    #[test]
    fn the_end_marker_must_follow_every_scan() {
        let soi = [0xFF, 0xD8];
        let (sos, eoi) = ([0xFF, 0xDA, 0x12, 0x34], [0xFF, 0xD9]);
        assert_eq!(reason(&[&soi[..], &sos, &eoi].concat()), None);
        // A progressive file: two scans, then the end.
        assert_eq!(reason(&[&soi[..], &sos, &sos, &eoi].concat()), None);
        // A thumbnail's end marker before the main scan, the main scan cut.
        let cut = [&soi[..], &eoi, &sos].concat();
        assert!(reason(&cut).is_some_and(|r| r.contains("truncated")), "{:?}", reason(&cut));
        // A scan after the last end marker.
        let cut = [&soi[..], &sos, &eoi, &sos].concat();
        assert!(reason(&cut).is_some_and(|r| r.contains("truncated")), "{:?}", reason(&cut));
        let cut = [&soi[..], &sos].concat();
        assert!(reason(&cut).is_some_and(|r| r.contains("truncated")), "{:?}", reason(&cut));
        let none = [&soi[..], &eoi].concat();
        assert!(reason(&none).is_some_and(|r| r.contains("no start-of-scan")), "{:?}", reason(&none));
    }
}
