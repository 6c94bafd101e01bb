//! Sizes and scale factors: pure arithmetic, shared by the decoder (how
//! far a JPEG may be scaled down while decoding) and the resampler.
//!
//! Everything is done in the image's stored orientation: when the EXIF
//! orientation turns the picture by 90 degrees the target box is turned
//! instead ([`stored_box`]) and the small result is turned at the end,
//! which costs a few hundred thousand pixels instead of the full photo.
//! Centre crops and centred letterboxes look the same either way.

use super::spec::{Mode, Size};

/// The target box in the stored orientation.
pub fn stored_box(size: Size, transposed: bool) -> (u32, u32) {
    if transposed { (size.height, size.width) } else { (size.width, size.height) }
}

/// The factor from source pixels to output pixels: fill covers the box,
/// fit and pad stay inside it.
pub fn scale(mode: Mode, (w, h): (u32, u32), (bw, bh): (u32, u32)) -> f64 {
    let (sx, sy) = (f64::from(bw) / f64::from(w.max(1)), f64::from(bh) / f64::from(h.max(1)));
    match mode {
        Mode::Fill => sx.max(sy),
        Mode::Fit | Mode::Pad => sx.min(sy),
    }
}

/// The image fitted inside the box: aspect kept, each side at least 1 and
/// at most the box's.
pub fn fitted((w, h): (u32, u32), (bw, bh): (u32, u32)) -> (u32, u32) {
    let s = scale(Mode::Fit, (w, h), (bw, bh));
    let side = |v: u32, max: u32| ((f64::from(v) * s).round() as u32).clamp(1, max);
    (side(w, bw), side(h, bh))
}

/// The smallest decoded size every output can be made from without
/// upscaling: for each size, the source scaled by its factor, rounded up;
/// never more than the source itself.
pub fn needed(mode: Mode, sizes: &[Size], full: (u32, u32), transposed: bool) -> (u32, u32) {
    let mut need = (1u32, 1u32);
    for &size in sizes {
        let s = scale(mode, full, stored_box(size, transposed)).min(1.0);
        // Less a hair: 3000 * (224 / 3000) is 224.00000000000003.
        let side = |v: u32| ((f64::from(v) * s - 1e-6).ceil() as u32).clamp(1, v.max(1));
        need = (need.0.max(side(full.0)), need.1.max(side(full.1)));
    }
    need
}

/// The JPEG DCT scale, in eighths (1 to 8): the smallest whose
/// decoded size (`ceil(side * n / 8)`, as the decoder rounds) still
/// covers `need` on both sides.
pub fn dct_eighths(full: (u32, u32), need: (u32, u32)) -> u32 {
    let scaled = |v: u32, n: u32| (v * n).div_ceil(8);
    (1..8).find(|&n| scaled(full.0, n) >= need.0 && scaled(full.1, n) >= need.1).unwrap_or(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: Size = Size { width: 224, height: 224 };

    #[test]
    fn fill_covers_fit_stays_inside() {
        assert!((scale(Mode::Fill, (4000, 3000), (224, 224)) - 224.0 / 3000.0).abs() < 1e-12);
        assert!((scale(Mode::Fit, (4000, 3000), (224, 224)) - 224.0 / 4000.0).abs() < 1e-12);
        assert_eq!(fitted((4000, 3000), (224, 224)), (224, 168));
        assert_eq!(fitted((10, 5000), (224, 224)), (1, 224), "a side never rounds to 0");
    }

    #[test]
    fn a_turned_image_turns_the_box() {
        let wide = Size { width: 300, height: 100 };
        assert_eq!(stored_box(wide, false), (300, 100));
        assert_eq!(stored_box(wide, true), (100, 300));
    }

    #[test]
    fn the_decoded_size_covers_every_output() {
        // 4000x3000 filled to 224x224 needs 299x224 (3000 * 224/3000 = 224,
        // 4000 * 0.0747 = 298.7); 299x299 needs more.
        assert_eq!(needed(Mode::Fill, &[SQUARE], (4000, 3000), false), (299, 224));
        let both = [SQUARE, Size { width: 299, height: 299 }];
        assert_eq!(needed(Mode::Fill, &both, (4000, 3000), false), (399, 299));
        assert_eq!(needed(Mode::Fit, &[SQUARE], (100, 50), false), (100, 50), "never above the source");
    }

    #[test]
    fn dct_scale_is_the_smallest_that_covers_both_sides() {
        // 4000x3000 -> 1/8 gives 500x375, enough for 299x224.
        assert_eq!(dct_eighths((4000, 3000), (299, 224)), 1);
        // 1600x1200 -> 1/8 is 200x150, 1/4 is 400x300.
        assert_eq!(dct_eighths((1600, 1200), (299, 224)), 2);
        assert_eq!(dct_eighths((640, 480), (299, 224)), 4);
        assert_eq!(dct_eighths((300, 224), (299, 224)), 8);
        // Any M/8, not only powers of two: 3/8 of 1000 is 375.
        assert_eq!(dct_eighths((1000, 1000), (300, 300)), 3);
        assert_eq!(dct_eighths((1000, 1000), (376, 376)), 4);
        assert_eq!(dct_eighths((1000, 1000), (800, 800)), 7);
        // Rounding up: 1001 / 8 = 125.1 -> 126 covers 126.
        assert_eq!(dct_eighths((1001, 1001), (126, 126)), 1);
        assert_eq!(dct_eighths((1001, 1001), (127, 127)), 2);
    }
}
