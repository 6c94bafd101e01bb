//! The `image_resize` spec as run.json carries it, and its compiled form.
//! Every field is kept as written (strings) and parsed in
//! [`ImageResizeSpec::compile`], so a bad value is refused with the field
//! it is in (`transform.sizes[1]: ...`), which serde's enum errors do not
//! say. The spec compiles without the codecs: the prep Lambda checks it.

use serde::{Deserialize, Serialize};

/// Default refusal threshold: 100 megapixels (a 12000x8000 photo is 96).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// Default largest input file read: 256 MiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 256 << 20;
/// Default JPEG quality.
pub const DEFAULT_QUALITY: u8 = 85;
/// Largest side of an output size.
pub const MAX_SIDE: u32 = 16384;

/// `{"kind": "image_resize", ...}` in run.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageResizeSpec {
    /// Output sizes, `"WIDTHxHEIGHT"` (e.g. `["224x224", "299x299"]`).
    pub sizes: Vec<String>,
    /// `fit`, `fill` (default) or `pad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `jpeg` (default), `png` or `webp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// JPEG quality 1-100 (default 85).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// Resampling filter: `lanczos3` (default), `catmull_rom`, `mitchell`,
    /// `bilinear`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `#rrggbb`: pad mode's bars and what transparency is flattened onto
    /// for JPEG output (default `#ffffff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// Inputs whose header claims more pixels are refused before decoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pixels: Option<u64>,
    /// Inputs larger than this are refused unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_bytes: Option<u64>,
}

/// How an image is brought to a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the aspect ratio, inside the box (one side may be shorter).
    Fit,
    /// Cover the box and crop the overflow, centred.
    Fill,
    /// Fit, then letterbox to the exact box with the background colour.
    Pad,
}

/// The encoded output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Baseline JPEG at the spec's quality; alpha is flattened.
    Jpeg,
    /// PNG (lossless, alpha kept).
    Png,
    /// WebP, lossless (the `image` crate's encoder; alpha kept).
    Webp,
}

impl Format {
    /// The output file's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }
}

/// The resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Lanczos, 3 lobes: sharpest, what Pillow's `LANCZOS` and libvips'
    /// default thumbnail kernel use.
    Lanczos3,
    /// Catmull-Rom (bicubic).
    CatmullRom,
    /// Mitchell-Netravali.
    Mitchell,
    /// Bilinear.
    Bilinear,
}

/// One output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// `WIDTHxHEIGHT`, the name of its output file.
    pub fn name(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

/// The spec checked and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ResizePlan {
    /// Distinct sizes, in the order written.
    pub sizes: Vec<Size>,
    /// The mode.
    pub mode: Mode,
    /// The output format.
    pub format: Format,
    /// JPEG quality.
    pub quality: u8,
    /// The filter.
    pub filter: Filter,
    /// Background colour, RGB.
    pub background: [u8; 3],
    /// Pixel limit.
    pub max_pixels: u64,
    /// Input size limit.
    pub max_input_bytes: u64,
}

fn one_of<T: Copy>(field: &str, value: Option<&str>, default: T, choices: &[(&str, T)]) -> Result<T, String> {
    let Some(value) = value else { return Ok(default) };
    choices.iter().find(|(name, _)| *name == value).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        format!("transform.{field}: {value:?} is not one of {}", names.join(", "))
    })
}

fn parse_size(text: &str) -> Option<Size> {
    let (w, h) = text.split_once('x')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(w) || !digits(h) {
        return None;
    }
    Some(Size { width: w.parse().ok()?, height: h.parse().ok()? })
}

fn parse_colour(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

impl ImageResizeSpec {
    /// Checks every field; the error names it.
    pub fn compile(&self) -> Result<ResizePlan, String> {
        if self.sizes.is_empty() {
            return Err("transform.sizes: at least one size is needed, e.g. [\"224x224\"]".into());
        }
        let mut sizes: Vec<Size> = Vec::with_capacity(self.sizes.len());
        for (i, text) in self.sizes.iter().enumerate() {
            let size = parse_size(text).ok_or_else(|| {
                format!("transform.sizes[{i}]: {text:?} is not WIDTHxHEIGHT (e.g. \"224x224\")")
            })?;
            if size.width == 0 || size.height == 0 || size.width > MAX_SIDE || size.height > MAX_SIDE {
                return Err(format!("transform.sizes[{i}]: {text:?}: each side must be 1 to {MAX_SIDE}"));
            }
            if sizes.contains(&size) {
                return Err(format!("transform.sizes[{i}]: {text:?} is listed twice"));
            }
            sizes.push(size);
        }
        let mode = one_of(
            "mode",
            self.mode.as_deref(),
            Mode::Fill,
            &[("fit", Mode::Fit), ("fill", Mode::Fill), ("pad", Mode::Pad)],
        )?;
        let format = one_of(
            "format",
            self.format.as_deref(),
            Format::Jpeg,
            &[("jpeg", Format::Jpeg), ("png", Format::Png), ("webp", Format::Webp)],
        )?;
        let filter = one_of(
            "filter",
            self.filter.as_deref(),
            Filter::Lanczos3,
            &[
                ("lanczos3", Filter::Lanczos3),
                ("catmull_rom", Filter::CatmullRom),
                ("mitchell", Filter::Mitchell),
                ("bilinear", Filter::Bilinear),
            ],
        )?;
        let quality = self.quality.unwrap_or(DEFAULT_QUALITY);
        if !(1..=100).contains(&quality) {
            return Err(format!("transform.quality: {quality} is not 1 to 100"));
        }
        if self.quality.is_some() && format != Format::Jpeg {
            return Err(
                "transform.quality: only JPEG output has a quality (PNG and WebP are lossless)".into()
            );
        }
        let background = match &self.background {
            None => [255, 255, 255],
            Some(text) => parse_colour(text)
                .ok_or_else(|| format!("transform.background: {text:?} is not a colour #rrggbb"))?,
        };
        let max_pixels = self.max_pixels.unwrap_or(DEFAULT_MAX_PIXELS);
        if max_pixels == 0 {
            return Err("transform.max_pixels: must be at least 1".into());
        }
        let max_input_bytes = self.max_input_bytes.unwrap_or(DEFAULT_MAX_INPUT_BYTES);
        if max_input_bytes == 0 {
            return Err("transform.max_input_bytes: must be at least 1".into());
        }
        Ok(ResizePlan { sizes, mode, format, quality, filter, background, max_pixels, max_input_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<ResizePlan, String> {
        let spec: ImageResizeSpec = serde_json::from_str(json).map_err(|e| e.to_string())?;
        spec.compile()
    }

    #[test]
    fn defaults_are_fill_jpeg_q85_lanczos3_white_100_megapixels() {
        let plan = spec(r#"{"sizes":["224x224","299x299"]}"#).expect("valid");
        assert_eq!(plan.sizes, [Size { width: 224, height: 224 }, Size { width: 299, height: 299 }]);
        assert_eq!(
            (plan.mode, plan.format, plan.quality, plan.filter),
            (Mode::Fill, Format::Jpeg, 85, Filter::Lanczos3)
        );
        assert_eq!((plan.background, plan.max_pixels), ([255, 255, 255], 100_000_000));
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (r#"{"sizes":[]}"#, "transform.sizes: at least one"),
            (r#"{"sizes":["224x224","224by224"]}"#, "transform.sizes[1]: \"224by224\" is not WIDTHxHEIGHT"),
            (r#"{"sizes":["0x224"]}"#, "transform.sizes[0]: \"0x224\": each side must be 1 to 16384"),
            (r#"{"sizes":["-1x2"]}"#, "transform.sizes[0]"),
            (r#"{"sizes":["9x9","9x9"]}"#, "transform.sizes[1]: \"9x9\" is listed twice"),
            (r#"{"sizes":["9x9"],"mode":"cover"}"#, "transform.mode: \"cover\" is not one of fit, fill, pad"),
            (
                r#"{"sizes":["9x9"],"format":"gif"}"#,
                "transform.format: \"gif\" is not one of jpeg, png, webp",
            ),
            (r#"{"sizes":["9x9"],"filter":"nearest"}"#, "transform.filter: \"nearest\""),
            (r#"{"sizes":["9x9"],"quality":0}"#, "transform.quality: 0 is not 1 to 100"),
            (r#"{"sizes":["9x9"],"quality":90,"format":"png"}"#, "transform.quality: only JPEG"),
            (r#"{"sizes":["9x9"],"background":"white"}"#, "transform.background: \"white\" is not a colour"),
            (r#"{"sizes":["9x9"],"max_pixels":0}"#, "transform.max_pixels: must be at least 1"),
            (r#"{"sizes":["9x9"],"qualty":80}"#, "unknown field `qualty`"),
        ];
        for (json, want) in cases {
            let err = spec(json).expect_err(json);
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn background_is_parsed_as_hex() {
        let plan = spec(r##"{"sizes":["1x1"],"mode":"pad","background":"#0080fF"}"##).expect("valid");
        assert_eq!(plan.background, [0, 0x80, 0xff]);
    }
}
