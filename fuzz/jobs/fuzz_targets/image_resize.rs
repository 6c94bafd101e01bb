//! The image transform on `<spec JSON>\n===\n<file bytes>`: the spec comes
//! from run.json, the file from anyone who can write to the source bucket.
//! For any bytes, `image_resize` promises (docs/jobs.md):
//! - a reject with its reason, or one output per size, never a panic;
//! - each output decodes as the format asked for, at the box's size in
//!   `fill` and `pad` mode and inside it, touching it, in `fit` mode;
//! - the same outputs for the same input (one image, one answer).
//!
//! Sizes are capped at 64x64 and the pixel limit at 2^20 here, so one
//! input cannot take seconds; the limits themselves are tested in
//! jobs/tests/image_resize.rs.
#![no_main]

use batch_jobs::transform::image::spec::{Format, Mode};
use batch_jobs::transform::image::{ImageResizeSpec, ImageStats, outputs};
use libfuzzer_sys::fuzz_target;

const MAX_FUZZ_SIDE: u32 = 64;

fuzz_target!(|input: &[u8]| {
    let Some((spec, data)) = jobs_fuzz::split_settings(input) else { return };
    let Ok(spec) = serde_json::from_slice::<ImageResizeSpec>(spec) else { return };
    let Ok(mut plan) = spec.compile() else { return };
    if plan.sizes.iter().any(|s| s.width > MAX_FUZZ_SIDE || s.height > MAX_FUZZ_SIDE) {
        return;
    }
    plan.max_pixels = plan.max_pixels.min(1 << 20);

    let mut stats = ImageStats::default();
    let result = outputs(&plan, data, &mut stats);
    let again = outputs(&plan, data, &mut ImageStats::default());
    assert_eq!(result, again, "the same input gave another answer");
    let Ok(files) = result else { return };
    assert_eq!(files.len(), plan.sizes.len(), "one output per size");
    let format = match plan.format {
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Png => image::ImageFormat::Png,
        Format::Webp => image::ImageFormat::WebP,
    };
    for ((name, bytes), size) in files.iter().zip(&plan.sizes) {
        let out = image::load_from_memory_with_format(bytes, format)
            .unwrap_or_else(|e| panic!("output {name} does not decode as {format:?}: {e}"));
        let (w, h) = (out.width(), out.height());
        match plan.mode {
            Mode::Fill | Mode::Pad => {
                assert_eq!((w, h), (size.width, size.height), "{name}: not the box's size")
            }
            Mode::Fit => assert!(
                w <= size.width
                    && h <= size.height
                    && (w == size.width || h == size.height)
                    && w > 0
                    && h > 0,
                "{name}: {w}x{h} is not inside the box touching it"
            ),
        }
    }
});
