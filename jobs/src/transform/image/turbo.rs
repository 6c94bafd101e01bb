//! libjpeg-turbo through the `turbojpeg` crate: JPEG decoding scaled in
//! the IDCT and JPEG encoding, both with its SIMD code. libvips and Pillow
//! use the same library, so the codec is not where we differ.

use std::cell::RefCell;

use turbojpeg::{Compressor, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

/// Progressive scans allowed in one file: a real progressive JPEG has
/// about ten; thousands of tiny scans are a known way to make a small
/// file take minutes (libjpeg-turbo's TJPARAM_SCANLIMIT).
const SCAN_LIMIT: u32 = 500;

/// `eighths` / 8 as libjpeg-turbo lists it (lowest terms: 1/4, not 2/8).
fn factor(eighths: u32) -> ScalingFactor {
    let e = eighths.clamp(1, 8) as usize;
    let g = gcd(e, 8);
    ScalingFactor::new(e / g, 8 / g)
}

thread_local! {
    // One decompressor and one compressor per thread, kept across images:
    // creating them allocates libjpeg's structures and memory pools, a
    // fixed cost per image that shows on small photos. Every setting is
    // set again on each use; libjpeg-turbo resets the rest per call.
    static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
    static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's `T` from `cell` (made on first use).
fn with_reused<T, R>(
    cell: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    make: impl FnOnce() -> Result<T, turbojpeg::Error>,
    f: impl FnOnce(&mut T) -> Result<R, turbojpeg::Error>,
) -> Result<R, turbojpeg::Error> {
    cell.with(|slot| {
        let mut slot = slot.borrow_mut();
        let codec = match &mut *slot {
            Some(codec) => codec,
            empty => empty.insert(make()?),
        };
        f(codec)
    })
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The JPEG as interleaved RGB at `eighths` / 8 of `full` (grey is
/// expanded by libjpeg-turbo): the pixels, width and height.
pub fn decode_rgb(
    bytes: &[u8],
    eighths: u32,
    full: (u32, u32),
) -> Result<(Vec<u8>, u32, u32), turbojpeg::Error> {
    with_reused(&DECOMPRESSOR, Decompressor::new, |d| decode_with(d, bytes, eighths, full))
}

fn decode_with(
    d: &mut Decompressor,
    bytes: &[u8],
    eighths: u32,
    full: (u32, u32),
) -> Result<(Vec<u8>, u32, u32), turbojpeg::Error> {
    d.set_scan_limit(SCAN_LIMIT)?;
    let header = d.read_header(bytes)?;
    if (header.width, header.height) != (full.0 as usize, full.1 as usize) {
        // Both decoders read the same frame header; a difference means a
        // file the two parse differently: let the generic path judge it.
        return Err(turbojpeg::Error::TurboJpegError(format!(
            "header size {}x{} differs from {}x{}",
            header.width, header.height, full.0, full.1
        )));
    }
    let f = factor(eighths);
    d.set_scaling_factor(f)?;
    let scaled = header.scaled(f);
    let (w, h) = (scaled.width, scaled.height);
    let mut image =
        Image { pixels: vec![0u8; w * h * 3], width: w, pitch: w * 3, height: h, format: PixelFormat::RGB };
    d.decompress(bytes, image.as_deref_mut())?;
    let side = |v: usize| u32::try_from(v).map_err(|_| turbojpeg::Error::IntegerOverflow("scaled size"));
    Ok((image.pixels, side(w)?, side(h)?))
}

/// RGB pixels as a baseline JPEG at `quality`, 4:2:0 chroma (libjpeg's
/// default, as Pillow and libvips write).
pub fn encode_rgb(data: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, turbojpeg::Error> {
    with_reused(&COMPRESSOR, Compressor::new, |c| {
        c.set_quality(i32::from(quality))?;
        c.set_subsamp(Subsamp::Sub2x2)?;
        let (w, h) = (width as usize, height as usize);
        c.compress_to_vec(Image { pixels: data, width: w, pitch: w * 3, height: h, format: PixelFormat::RGB })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighths_are_given_in_lowest_terms() {
        let got: Vec<(usize, usize)> = (1..=8).map(factor).map(|f| (f.num(), f.denom())).collect();
        assert_eq!(got, [(1, 8), (1, 4), (3, 8), (1, 2), (5, 8), (3, 4), (7, 8), (1, 1)]);
        // Every one is a factor libjpeg-turbo accepts.
        let supported = Decompressor::supported_scaling_factors();
        assert!((1..=8).all(|e| supported.contains(&factor(e))));
    }

    #[test]
    fn scaled_decode_has_the_rounded_up_size() {
        let grey: Vec<u8> = (0..101 * 75 * 3).map(|i| (i % 251) as u8).collect();
        let jpeg = encode_rgb(&grey, 101, 75, 90).expect("encode");
        for (eighths, want) in [(8, (101, 75)), (3, (38, 29)), (1, (13, 10))] {
            let (data, w, h) = decode_rgb(&jpeg, eighths, (101, 75)).expect("decode");
            assert_eq!((w, h), want, "{eighths}/8");
            assert_eq!(data.len(), w as usize * h as usize * 3);
        }
    }
}
