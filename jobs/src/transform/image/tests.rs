//! The whole transform on pictures made here with the `image` crate's own
//! encoders, and on hostile files made by hand.

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, Frame, ImageEncoder, RgbaImage};

use super::spec::ImageResizeSpec;
use super::synthetic::{photo, png_bomb};
use super::*;

fn resizer(json: &str) -> ResizePlan {
    let spec: ImageResizeSpec = serde_json::from_str(json).expect("spec json");
    spec.compile().expect("valid spec")
}

fn jpeg(width: u32, height: u32, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut out, 90);
    if let Some(exif) = exif {
        enc.set_exif_metadata(exif).expect("exif supported");
    }
    enc.write_image(&photo(width, height, b"t"), width, height, ExtendedColorType::Rgb8).expect("encode");
    out
}

fn png_rgba(image: &RgbaImage, icc: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = PngEncoder::new(&mut out);
    if let Some(icc) = icc {
        enc.set_icc_profile(icc).expect("icc supported");
    }
    enc.write_image(image.as_raw(), image.width(), image.height(), ExtendedColorType::Rgba8).expect("encode");
    out
}

/// A TIFF chunk with one entry: Orientation = `value`.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&value.to_le_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    t
}

fn decoded(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).expect("our output decodes")
}

/// Runs one input; outputs are collected in memory.
/// Output files by name.
type Files = Vec<(String, Vec<u8>)>;

fn run_one(r: &ResizePlan, input: &[u8]) -> (ImageStats, Option<Reject>, Files) {
    let mut files = Vec::new();
    let (stats, reject) = run::<std::convert::Infallible>(r, Ok(input.to_vec()), |name, bytes| {
        files.push((name.to_string(), bytes.to_vec()));
        Ok(format!("out/{name}"))
    })
    .expect("in-memory writes");
    assert_eq!(stats.records_in, stats.records_out + stats.rejects.records_rejected, "in = out + rejected");
    (stats, reject, files)
}

#[test]
fn a_photo_is_written_at_every_size_from_a_dct_scaled_decode() {
    let r = resizer(r#"{"sizes":["224x224","100x50"],"quality":85}"#);
    let input = jpeg(2400, 1800, None);
    let (stats, reject, files) = run_one(&r, &input);
    assert_eq!(reject, None);
    assert_eq!((stats.records_out, stats.format.as_deref()), (1, Some("jpeg")));
    assert_eq!((stats.width, stats.height), (Some(2400), Some(1800)));
    // 224x224 fill needs 299x224 of 2400x1800: 1/8 gives 300x225.
    assert_eq!(stats.jpeg_dct_scale.as_deref(), Some("1/8"));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["224x224.jpg", "100x50.jpg"]);
    assert_eq!(stats.outputs[0].path, "out/224x224.jpg");
    assert_eq!(stats.outputs[1].bytes, files[1].1.len() as u64);
    let first = decoded(&files[0].1);
    assert_eq!((first.width(), first.height()), (224, 224));
    assert_eq!(image::guess_format(&files[0].1).ok(), Some(image::ImageFormat::Jpeg));
    let second = decoded(&files[1].1);
    assert_eq!((second.width(), second.height()), (100, 50));
}

#[test]
fn the_dct_scaled_result_matches_a_full_decode() {
    // The same picture at full decode (generic path, via PNG) and at 1/8:
    // the 64x64 outputs differ by little on average.
    let (w, h) = (2048, 1536);
    let jpeg_r = resizer(r#"{"sizes":["64x64"],"format":"png"}"#);
    let (stats, _, from_jpeg) = run_one(&jpeg_r, &jpeg(w, h, None));
    assert_eq!(stats.jpeg_dct_scale.as_deref(), Some("1/8"));
    let full = decoded(&jpeg(w, h, None)).into_rgba8();
    let (_, _, from_png) = run_one(&jpeg_r, &png_rgba(&full, None));
    let (a, b) = (decoded(&from_jpeg[0].1).into_rgb8(), decoded(&from_png[0].1).into_rgb8());
    let diff: f64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>()
        / a.as_raw().len() as f64;
    assert!(diff < 4.0, "mean abs difference {diff}");
}

#[test]
fn a_jpeg_is_scaled_by_the_smallest_eighth_that_covers_the_outputs() {
    // 1600x1200 for 224x224 fill needs 299x224: 1/8 is 200x150, 2/8 is
    // 400x300. 640x480 needs the same: 3/8 is 240x180, 4/8 is 320x240.
    // 1000x1000 for 300x300: 3/8 is 375x375.
    for ((w, h), size, scale) in [
        ((1600, 1200), "224x224", "2/8"),
        ((640, 480), "224x224", "4/8"),
        ((1000, 1000), "300x300", "3/8"),
        ((300, 300), "299x299", "8/8"),
    ] {
        let r = resizer(&format!(r#"{{"sizes":["{size}"]}}"#));
        let (stats, reject, files) = run_one(&r, &jpeg(w, h, None));
        assert_eq!((reject, stats.jpeg_dct_scale.as_deref()), (None, Some(scale)), "{w}x{h}");
        let out = decoded(&files[0].1);
        assert_eq!(format!("{}x{}", out.width(), out.height()), size, "{w}x{h}");
    }
}

#[test]
fn a_grey_jpeg_is_scaled_and_expanded_to_rgb() {
    // A grey ramp, left dark, right light: libjpeg-turbo decodes it at 2/8
    // straight to RGB.
    let (w, h) = (1600u32, 1200u32);
    let ramp: Vec<u8> = (0..h).flat_map(|_| (0..w).map(move |x| (x * 255 / (w - 1)) as u8)).collect();
    let mut input = Vec::new();
    JpegEncoder::new_with_quality(&mut input, 90)
        .write_image(&ramp, w, h, ExtendedColorType::L8)
        .expect("encode");
    let (stats, reject, files) = run_one(&resizer(r#"{"sizes":["224x224"]}"#), &input);
    assert_eq!((reject, stats.jpeg_dct_scale.as_deref()), (None, Some("2/8")));
    let out = decoded(&files[0].1).into_rgb8();
    assert_eq!(out.dimensions(), (224, 224));
    let (left, right) = (out.get_pixel(20, 112), out.get_pixel(203, 112));
    // Filled to a square: the middle 1200 of 1600 columns, so x 20 of 224
    // is about column 307 (value 49) and x 203 about 1293 (value 206).
    for (p, want) in [(left, 49i32), (right, 206)] {
        assert!(p.0.iter().all(|&c| (i32::from(c) - want).abs() <= 6), "{p:?} want {want}");
    }
}

#[test]
fn a_jpeg_with_stray_bytes_before_its_end_is_still_decoded() {
    // Stray bytes before the end marker are a warning in libjpeg-turbo
    // ("extraneous bytes before marker 0xd9"), not a reject; were it to
    // report failure, zune-jpeg would decode the file, as before.
    let good = jpeg(640, 480, None);
    let mut stray = good[..good.len() - 2].to_vec();
    stray.extend_from_slice(&[0x12, 0x34, 0x56, 0xFF, 0xD9]);
    let (stats, reject, files) = run_one(&resizer(r#"{"sizes":["64x64"]}"#), &stray);
    assert_eq!((reject, stats.records_out), (None, 1));
    assert_eq!(decoded(&files[0].1).width(), 64);
}

#[test]
fn modes_give_their_sizes() {
    let input = jpeg(400, 200, None);
    for (mode, want) in [("fill", (64, 64)), ("fit", (64, 32)), ("pad", (64, 64))] {
        let r = resizer(&format!(r##"{{"sizes":["64x64"],"mode":"{mode}","background":"#ff0000"}}"##));
        let (_, reject, files) = run_one(&r, &input);
        assert_eq!(reject, None, "{mode}");
        let out = decoded(&files[0].1).into_rgb8();
        assert_eq!(out.dimensions(), want, "{mode}");
        if mode == "pad" {
            let bar = out.get_pixel(32, 2);
            assert!(bar[0] > 240 && bar[1] < 20 && bar[2] < 20, "red bar: {bar:?}");
        }
    }
}

#[test]
fn exif_orientation_is_applied() {
    // 400x200 stored, orientation 6 (turn 90 clockwise to view): seen as
    // 200x400, so fit into 100x100 is 50x100. The stored left half is red:
    // after the turn it is at the top.
    let mut pixels = photo(400, 200, b"o");
    for px in pixels.chunks_exact_mut(3).enumerate().filter(|(i, _)| i % 400 < 200).map(|(_, p)| p) {
        px.copy_from_slice(&[250, 0, 0]);
    }
    let mut input = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut input, 95);
    enc.set_exif_metadata(exif_orientation(6)).expect("exif");
    enc.write_image(&pixels, 400, 200, ExtendedColorType::Rgb8).expect("encode");
    let r = resizer(r#"{"sizes":["100x100"],"mode":"fit","format":"png"}"#);
    let (stats, _, files) = run_one(&r, &input);
    assert_eq!(stats.exif_orientation, Some(6));
    let out = decoded(&files[0].1).into_rgb8();
    assert_eq!(out.dimensions(), (50, 100));
    let (top, bottom) = (out.get_pixel(25, 10), out.get_pixel(25, 90));
    assert!(top[0] > 200 && top[1] < 40, "top is red: {top:?}");
    assert!(bottom[0] < 230 || bottom[1] > 40, "bottom is the photo: {bottom:?}");
}

#[test]
fn alpha_is_flattened_for_jpeg_and_kept_for_png() {
    let clear = RgbaImage::from_pixel(40, 40, image::Rgba([255, 0, 0, 0]));
    let input = png_rgba(&clear, None);
    let to_jpeg = resizer(r##"{"sizes":["20x20"],"background":"#00ff00"}"##);
    let (_, _, files) = run_one(&to_jpeg, &input);
    let p = *decoded(&files[0].1).into_rgb8().get_pixel(10, 10);
    assert!(p[1] > 240 && p[0] < 20, "transparent red on green is green: {p:?}");
    let to_png = resizer(r#"{"sizes":["20x20"],"format":"png"}"#);
    let (stats, _, files) = run_one(&to_png, &input);
    assert_eq!(stats.format.as_deref(), Some("png"));
    assert_eq!(decoded(&files[0].1).into_rgba8().get_pixel(10, 10)[3], 0, "alpha kept");
}

#[test]
fn webp_and_the_first_gif_frame_are_read() {
    let r = resizer(r#"{"sizes":["8x8"],"format":"webp"}"#);
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .write_image(&photo(30, 20, b"w"), 30, 20, ExtendedColorType::Rgb8)
        .expect("encode");
    let (stats, reject, files) = run_one(&r, &webp);
    assert_eq!((reject, stats.format.as_deref()), (None, Some("webp")));
    assert_eq!(decoded(&files[0].1).width(), 8);
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        let blue = RgbaImage::from_pixel(16, 16, image::Rgba([0, 0, 255, 255]));
        let red = RgbaImage::from_pixel(16, 16, image::Rgba([255, 0, 0, 255]));
        enc.encode_frames([Frame::new(blue), Frame::new(red)]).expect("encode");
    }
    let r = resizer(r#"{"sizes":["8x8"],"format":"png"}"#);
    let (stats, _, files) = run_one(&r, &gif);
    assert_eq!(stats.format.as_deref(), Some("gif"));
    let p = *decoded(&files[0].1).into_rgba8().get_pixel(4, 4);
    assert!(p[2] > 240 && p[0] < 20, "first frame (blue): {p:?}");
}

#[test]
fn an_icc_profile_is_converted_to_srgb() {
    let p3 = moxcms::ColorProfile::new_display_p3().encode().expect("profile");
    let image = RgbaImage::from_pixel(16, 16, image::Rgba([200, 100, 50, 255]));
    let r = resizer(r#"{"sizes":["4x4"],"format":"png"}"#);
    let (stats, _, files) = run_one(&r, &png_rgba(&image, Some(p3)));
    assert_eq!(stats.icc.as_deref(), Some("converted to sRGB"));
    let p = *decoded(&files[0].1).into_rgba8().get_pixel(2, 2);
    // Display P3's red is more saturated than sRGB's: the same colour
    // needs more red and less blue in sRGB.
    assert!(p[0] > 205 && p[2] < 45, "{p:?}");
    let (stats, _, files) = run_one(&r, &png_rgba(&image, None));
    assert_eq!(stats.icc.as_deref(), Some("none"));
    assert_eq!(decoded(&files[0].1).into_rgba8().get_pixel(2, 2).0, [200, 100, 50, 255]);
    let (stats, reject, _) = run_one(&r, &png_rgba(&image, Some(b"not a profile".to_vec())));
    assert_eq!(reject, None, "a damaged profile is no reason to lose the image");
    assert!(stats.icc.as_deref().is_some_and(|n| n.starts_with("ignored: ")), "{:?}", stats.icc);
}

fn rejected(r: &ResizePlan, input: &[u8]) -> (ImageStats, Reject) {
    let (stats, reject, files) = run_one(r, input);
    assert!(files.is_empty(), "a rejected input writes nothing");
    assert_eq!((stats.records_out, stats.rejects.records_rejected), (0, 1));
    let reject = reject.expect("rejected");
    assert_eq!(stats.error.as_deref(), Some(format!("{}: {}", reject.rule, reject.reason).as_str()));
    (stats, reject)
}

#[test]
fn hostile_inputs_are_rejects_with_their_reason() {
    let r = resizer(r#"{"sizes":["224x224"]}"#);
    let good = jpeg(640, 480, None);

    let (_, reject) = rejected(&r, b"");
    assert_eq!((reject.rule, reject.reason.as_str()), ("empty", "the file is empty (0 bytes)"));

    let (_, reject) = rejected(&r, &good[..good.len() / 2]);
    assert_eq!(reject.rule, "corrupt", "truncated: {}", reject.reason);
    assert!(reject.reason.contains("truncated"), "{}", reject.reason);
    // Cut 2 bytes short (only the end marker missing), and cut within the
    // headers: both refused, whichever decoder would have taken them.
    let (_, reject) = rejected(&r, &good[..good.len() - 2]);
    assert_eq!(reject.rule, "corrupt", "{}", reject.reason);
    let (_, reject) = rejected(&r, &good[..300]);
    assert_eq!(reject.rule, "corrupt", "{}", reject.reason);
    let big = jpeg(2400, 1800, None);
    let (_, reject) = rejected(&r, &big[..big.len() * 2 / 3]);
    assert_eq!(reject.rule, "corrupt", "the DCT-scaling path too: {}", reject.reason);

    let mut scrambled = good.clone();
    for b in scrambled[200..].iter_mut() {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let (_, reject) = rejected(&r, &scrambled);
    assert_eq!(reject.rule, "corrupt", "{}", reject.reason);

    let bomb = png_bomb(100_000, 100_000, 1000);
    assert!(bomb.len() < 2000, "the bomb is small: {} bytes", bomb.len());
    let (stats, reject) = rejected(&r, &bomb);
    assert_eq!(reject.rule, "tooManyPixels");
    assert!(
        reject.reason.contains("100000x100000 = 10000000000 pixels, above max_pixels 100000000"),
        "{}",
        reject.reason
    );
    assert_eq!((stats.format, stats.width), (None, None));

    // A JPEG frame header claiming 60000x60000.
    let mut big = good.clone();
    let sof = big.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline SOF");
    big[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let (_, reject) = rejected(&r, &big);
    assert_eq!(reject.rule, "tooManyPixels", "{}", reject.reason);

    let (_, reject) = rejected(&r, b"col1,col2\n1,2\n");
    assert_eq!(reject.rule, "unsupportedFormat");
    assert!(reject.reason.contains("first bytes 63 6f 6c 31"), "{}", reject.reason);

    // BMP's magic, which the sniffer knows but we do not decode.
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0; 60]);
    let (_, reject) = rejected(&r, &bmp);
    assert_eq!(
        (reject.rule, reject.reason.as_str()),
        ("unsupportedFormat", "Bmp images are not supported (JPEG, PNG, WebP, GIF are)")
    );

    // And the next good image still goes through.
    let (_, reject, files) = run_one(&r, &good);
    assert_eq!((reject, files.len()), (None, 1));
}

#[test]
fn the_bomb_is_real_deflate() {
    // Under a limit that lets it through, the decoder inflates the zeros
    // and then finds the data cut: the stream itself is valid.
    let r = resizer(r#"{"sizes":["8x8"],"max_pixels":10000}"#);
    let (_, reject) = rejected(&r, &png_bomb(100, 100, 10));
    assert_eq!(reject.rule, "corrupt", "{}", reject.reason);
    let (_, reject, files) = run_one(&r, &png_bomb(100, 100, 200));
    assert_eq!((reject, files.len()), (None, 1), "200 * 258 bytes cover 100 rows of 301");
}

#[test]
fn the_pixel_limit_is_the_specs() {
    let r = resizer(r#"{"sizes":["8x8"],"max_pixels":1000}"#);
    let (_, reject) = rejected(&r, &jpeg(40, 30, None));
    assert!(reject.reason.contains("40x30 = 1200 pixels, above max_pixels 1000"), "{}", reject.reason);
    let r = resizer(r#"{"sizes":["8x8"],"max_pixels":1200}"#);
    assert_eq!(run_one(&r, &jpeg(40, 30, None)).1, None, "the limit itself is allowed");
}

#[test]
fn an_input_over_the_byte_limit_is_not_read() {
    let input = read_input(&[7u8; 100][..], 99, 0).expect("in-memory read");
    assert_eq!(input.expect_err("too large").rule, "inputTooLarge");
    assert_eq!(read_input(&[7u8; 100][..], 100, 100).expect("read").expect("within").len(), 100);
}

#[test]
fn the_reject_line_names_the_input() {
    let mut out = Vec::new();
    Reject::new("corrupt", "cannot decode: x").write_line(&mut out, "photos/a.jpg");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "{\"line\":1,\"field\":null,\"rule\":\"corrupt\",\"reason\":\"cannot decode: x\",\"record\":\"photos/a.jpg\"}\n"
    );
}
