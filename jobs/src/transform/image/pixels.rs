//! An 8-bit RGB or RGBA picture in one buffer, and the small whole-image
//! steps done on the resized result: EXIF orientation and flattening
//! alpha onto the background.

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};

/// Interleaved 8-bit pixels, RGB or RGBA (straight alpha).
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    /// `width * height * (3 or 4)` bytes, rows top to bottom.
    pub data: Vec<u8>,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// RGBA when true, RGB when false.
    pub alpha: bool,
}

impl Pixels {
    /// Bytes per pixel.
    pub fn channels(&self) -> usize {
        if self.alpha { 4 } else { 3 }
    }

    /// The picture turned and flipped as `orientation` says.
    pub fn oriented(self, orientation: Orientation) -> Pixels {
        if orientation == Orientation::NoTransforms {
            return self;
        }
        let (w, h, alpha) = (self.width, self.height, self.alpha);
        let mut image = if alpha {
            match RgbaImage::from_raw(w, h, self.data) {
                Some(buf) => DynamicImage::ImageRgba8(buf),
                None => unreachable_size(),
            }
        } else {
            match RgbImage::from_raw(w, h, self.data) {
                Some(buf) => DynamicImage::ImageRgb8(buf),
                None => unreachable_size(),
            }
        };
        image.apply_orientation(orientation);
        let (width, height) = (image.width(), image.height());
        let data = if alpha { image.into_rgba8().into_raw() } else { image.into_rgb8().into_raw() };
        Pixels { data, width, height, alpha }
    }

    /// RGB, alpha composited onto `background` (JPEG has no alpha).
    pub fn flattened(self, background: [u8; 3]) -> Pixels {
        if !self.alpha {
            return self;
        }
        let mut rgb = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        for px in self.data.chunks_exact(4) {
            let a = u32::from(px[3]);
            for c in 0..3 {
                let v = (u32::from(px[c]) * a + u32::from(background[c]) * (255 - a) + 127) / 255;
                rgb.push(v as u8);
            }
        }
        Pixels { data: rgb, width: self.width, height: self.height, alpha: false }
    }
}

/// Every `Pixels` is built with a buffer of its size; a mismatch is a bug.
fn unreachable_size() -> ! {
    panic!("Pixels buffer does not match its size")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(width: u32, height: u32, data: &[u8]) -> Pixels {
        Pixels { data: data.to_vec(), width, height, alpha: false }
    }

    #[test]
    fn orientation_turns_the_picture() {
        // 2x1: red, blue.
        let p = rgb(2, 1, &[255, 0, 0, 0, 0, 255]);
        let turned = p.clone().oriented(Orientation::Rotate90);
        assert_eq!((turned.width, turned.height), (1, 2));
        assert_eq!(turned.data, [255, 0, 0, 0, 0, 255], "clockwise: left goes to the top");
        let flipped = p.oriented(Orientation::FlipHorizontal);
        assert_eq!(flipped.data, [0, 0, 255, 255, 0, 0]);
    }

    #[test]
    fn alpha_is_composited_onto_the_background() {
        let p = Pixels {
            data: vec![255, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 128],
            width: 3,
            height: 1,
            alpha: true,
        };
        let flat = p.flattened([0, 0, 255]);
        // Half-covered blue over blue stays blue; half-covered red over blue
        // would be purple.
        assert_eq!(flat.data, [0, 0, 255, 255, 0, 0, 0, 0, 255], "clear, opaque, half");
        let half_red = Pixels { data: vec![255, 0, 0, 128], width: 1, height: 1, alpha: true };
        assert_eq!(half_red.flattened([0, 0, 255]).data, [128, 0, 127]);
    }
}
