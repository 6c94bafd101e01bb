//! Encoding one output. JPEG output has no alpha: it is composited onto
//! the background first, then encoded by libjpeg-turbo ([`super::turbo`],
//! SIMD, 4:2:0 chroma as libjpeg's default); PNG and WebP by the `image`
//! crate.

use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};

use super::pixels::Pixels;
use super::spec::Format;
use super::turbo;

/// The encoded file.
pub fn encode(pixels: Pixels, format: Format, quality: u8, background: [u8; 3]) -> Result<Vec<u8>, String> {
    let pixels = if format == Format::Jpeg { pixels.flattened(background) } else { pixels };
    let colour = if pixels.alpha { ExtendedColorType::Rgba8 } else { ExtendedColorType::Rgb8 };
    let (w, h) = (pixels.width, pixels.height);
    let mut out = Vec::with_capacity(pixels.data.len() / 4);
    let result = match format {
        Format::Jpeg => {
            if w > 65_535 || h > 65_535 {
                return Err(format!("{w}x{h} is too large for JPEG (65535 a side)"));
            }
            return turbo::encode_rgb(&pixels.data, w, h, quality).map_err(|e| format!("encoding JPEG: {e}"));
        }
        Format::Png => PngEncoder::new(&mut out).write_image(&pixels.data, w, h, colour),
        Format::Webp => WebPEncoder::new_lossless(&mut out).write_image(&pixels.data, w, h, colour),
    };
    result.map_err(|e| format!("encoding {format:?}: {e}"))?;
    Ok(out)
}
