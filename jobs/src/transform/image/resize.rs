//! Resampling to one output size with `fast_image_resize` (SIMD
//! convolution; RGBA is resized premultiplied, so transparent pixels'
//! colours do not bleed into their neighbours).

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::geometry::fitted;
use super::pixels::Pixels;
use super::spec::{Filter, Mode};

fn filter_type(filter: Filter) -> FilterType {
    match filter {
        // The same kernel with one sine instead of two: fast_image_resize
        // computes the filter's weights anew for every resize, and its
        // two `sin` calls a weight were ~3% of a 0.3 MP photo's time.
        Filter::Lanczos3 => fast_image_resize::Filter::new("lanczos3", lanczos3, 3.0)
            .map_or(FilterType::Lanczos3, FilterType::Custom),
        Filter::CatmullRom => FilterType::CatmullRom,
        Filter::Mitchell => FilterType::Mitchell,
        Filter::Bilinear => FilterType::Bilinear,
    }
}

/// Lanczos 3, `sinc(x) sinc(x / 3)` on (-3, 3), written with the one
/// sine `s = sin(pi x / 3)`: `sin(pi x) = s (3 - 4 s^2)` (triple angle),
/// so the product is `3 s^2 (3 - 4 s^2) / (pi x)^2`.
fn lanczos3(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    if !(-3.0..3.0).contains(&x) {
        return 0.0;
    }
    let s = (std::f64::consts::FRAC_PI_3 * x).sin();
    let px = std::f64::consts::PI * x;
    3.0 * s * s * (3.0 - 4.0 * s * s) / (px * px)
}

/// `src` brought to the box `(bw, bh)` (stored orientation) by `mode`.
pub fn resize(
    resizer: &mut Resizer,
    src: &Pixels,
    mode: Mode,
    (bw, bh): (u32, u32),
    filter: Filter,
    background: [u8; 3],
) -> Result<Pixels, String> {
    let pixel_type = if src.alpha { PixelType::U8x4 } else { PixelType::U8x3 };
    let view = fast_image_resize::images::ImageRef::new(src.width, src.height, &src.data, pixel_type)
        .map_err(|e| format!("source buffer: {e}"))?;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter_type(filter)));
    let (options, (w, h)) = match mode {
        // Crops the source to the box's aspect ratio, centred, as part of
        // the convolution (no copy of the crop).
        Mode::Fill => (options.fit_into_destination(Some((0.5, 0.5))), (bw, bh)),
        Mode::Fit | Mode::Pad => (options, fitted((src.width, src.height), (bw, bh))),
    };
    let mut dst = Image::new(w, h, pixel_type);
    resizer.resize(&view, &mut dst, &options).map_err(|e| format!("resize: {e}"))?;
    let inner = Pixels { data: dst.into_vec(), width: w, height: h, alpha: src.alpha };
    Ok(if mode == Mode::Pad { letterbox(inner, (bw, bh), background) } else { inner })
}

/// `inner` centred on a `(bw, bh)` canvas of `background` (opaque).
fn letterbox(inner: Pixels, (bw, bh): (u32, u32), background: [u8; 3]) -> Pixels {
    if (inner.width, inner.height) == (bw, bh) {
        return inner;
    }
    let c = inner.channels();
    let mut fill = background.to_vec();
    if inner.alpha {
        fill.push(255);
    }
    let mut data: Vec<u8> = fill.iter().copied().cycle().take(bw as usize * bh as usize * c).collect();
    let (left, top) = ((bw - inner.width) as usize / 2, (bh - inner.height) as usize / 2);
    let row = inner.width as usize * c;
    for (y, src_row) in inner.data.chunks_exact(row).enumerate() {
        let at = ((top + y) * bw as usize + left) * c;
        data[at..at + row].copy_from_slice(src_row);
    }
    Pixels { data, width: bw, height: bh, alpha: inner.alpha }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(width: u32, height: u32, colour: [u8; 3]) -> Pixels {
        let data = colour.iter().copied().cycle().take(width as usize * height as usize * 3).collect();
        Pixels { data, width, height, alpha: false }
    }

    fn at(p: &Pixels, x: u32, y: u32) -> &[u8] {
        let i = (y as usize * p.width as usize + x as usize) * p.channels();
        &p.data[i..i + p.channels()]
    }

    #[test]
    fn lanczos3_with_one_sine_is_lanczos3() {
        let sinc = |x: f64| {
            if x == 0.0 { 1.0 } else { (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x) }
        };
        for i in -40_000..=40_000 {
            let x = f64::from(i) / 10_000.0;
            let want = if (-3.0..3.0).contains(&x) { sinc(x) * sinc(x / 3.0) } else { 0.0 };
            assert!((lanczos3(x) - want).abs() < 1e-14, "x {x}: {} against {want}", lanczos3(x));
        }
    }

    #[test]
    fn each_mode_gives_its_size() {
        let mut r = Resizer::new();
        let src = solid(400, 200, [10, 200, 30]);
        let fill = resize(&mut r, &src, Mode::Fill, (50, 50), Filter::Lanczos3, [0; 3]).expect("resize");
        assert_eq!((fill.width, fill.height), (50, 50));
        let fit = resize(&mut r, &src, Mode::Fit, (50, 50), Filter::Lanczos3, [0; 3]).expect("resize");
        assert_eq!((fit.width, fit.height), (50, 25));
        let pad = resize(&mut r, &src, Mode::Pad, (50, 50), Filter::Lanczos3, [1, 2, 3]).expect("resize");
        assert_eq!((pad.width, pad.height), (50, 50));
        assert_eq!(at(&pad, 25, 0), [1, 2, 3], "bar above");
        assert_eq!(at(&pad, 25, 49), [1, 2, 3], "bar below");
        assert_eq!(at(&pad, 25, 25), [10, 200, 30], "picture in the middle");
    }

    #[test]
    fn fill_crops_the_centre() {
        // Left third red, middle third green, right third blue: a square
        // fill keeps only the middle.
        let mut src = solid(300, 100, [0, 255, 0]);
        for y in 0..100usize {
            for x in 0..300usize {
                let colour = if x < 100 {
                    [255, 0, 0]
                } else if x >= 200 {
                    [0, 0, 255]
                } else {
                    [0, 255, 0]
                };
                src.data[(y * 300 + x) * 3..][..3].copy_from_slice(&colour);
            }
        }
        let out = resize(&mut Resizer::new(), &src, Mode::Fill, (20, 20), Filter::Lanczos3, [0; 3])
            .expect("resize");
        // The filter's taps reach past the crop (as they should), so the
        // outermost pixel may take a trace of red or blue.
        for x in [2, 10, 17] {
            let p = at(&out, x, 10);
            assert!(p[1] > 240 && p[0] < 15 && p[2] < 15, "x {x}: {p:?}");
        }
    }
}
