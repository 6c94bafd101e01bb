//! Encoding one output. JPEG output has no alpha: it is composited onto
//! the background first, then encoded by `jpeg-encoder` (SIMD, 4:2:0
//! chroma as libjpeg's default); PNG and WebP by the `image` crate.

use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};

use super::pixels::Pixels;
use super::spec::Format;

/// The encoded file.
pub fn encode(pixels: Pixels, format: Format, quality: u8, background: [u8; 3]) -> Result<Vec<u8>, String> {
    let pixels = if format == Format::Jpeg { pixels.flattened(background) } else { pixels };
    let colour = if pixels.alpha { ExtendedColorType::Rgba8 } else { ExtendedColorType::Rgb8 };
    let (w, h) = (pixels.width, pixels.height);
    let mut out = Vec::with_capacity(pixels.data.len() / 4);
    let result = match format {
        Format::Jpeg => {
            let side = |v: u32| u16::try_from(v).map_err(|_| format!("{v} pixels is too wide for JPEG"));
            return jpeg_encoder::Encoder::new(&mut out, quality)
                .encode(&pixels.data, side(w)?, side(h)?, jpeg_encoder::ColorType::Rgb)
                .map(|()| out)
                .map_err(|e| format!("encoding JPEG: {e}"));
        }
        Format::Png => PngEncoder::new(&mut out).write_image(&pixels.data, w, h, colour),
        Format::Webp => WebPEncoder::new_lossless(&mut out).write_image(&pixels.data, w, h, colour),
    };
    result.map_err(|e| format!("encoding {format:?}: {e}"))?;
    Ok(out)
}
