//! Colour: an embedded ICC profile is converted to sRGB (moxcms, pure
//! Rust), so a Display P3 or Adobe RGB photo keeps its colours in the
//! output, which is written untagged and so read as sRGB everywhere.
//! The conversion runs on the resized pixels (a few hundred thousand, not
//! the photo's millions); resampling happens in the source's own encoded
//! space, as Pillow's and libvips' default thumbnails do too.
//! Profiles that cannot be applied to 8-bit RGB (grey or CMYK profiles,
//! damaged ones) are ignored, and the stats say so.

use std::cell::RefCell;

use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

use super::pixels::Pixels;

/// A profile ready to apply, or why there is none.
#[derive(Clone)]
pub enum Conversion {
    /// No profile: the pixels are taken as sRGB.
    None,
    /// A profile that will be converted.
    ToSrgb(std::sync::Arc<moxcms::Transform8BitExecutor>, bool),
    /// A profile that is not applied, and why.
    Ignored(String),
}

thread_local! {
    /// The last profile seen (its bytes, alpha or not) and its conversion.
    static LAST: RefCell<Option<(Vec<u8>, bool, Conversion)>> = const { RefCell::new(None) };
}

impl Conversion {
    /// The conversion for `icc` on pixels with or without alpha. The last
    /// one made on this thread is kept: building a transform (parsing the
    /// profile, its curves and tables) costs about as much as resizing a
    /// small photo, and a run's photos mostly carry the same profile
    /// (their camera's, or sRGB's).
    pub fn for_profile(icc: Option<&[u8]>, alpha: bool) -> Conversion {
        let Some(icc) = icc else { return Conversion::None };
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            if let Some((profile, with_alpha, conversion)) = &*last
                && *with_alpha == alpha
                && profile.as_slice() == icc
            {
                return conversion.clone();
            }
            let conversion = Conversion::build(icc, alpha);
            *last = Some((icc.to_vec(), alpha, conversion.clone()));
            conversion
        })
    }

    fn build(icc: &[u8], alpha: bool) -> Conversion {
        let source = match ColorProfile::new_from_slice(icc) {
            Ok(p) => p,
            Err(e) => return Conversion::Ignored(format!("ICC profile unreadable: {e}")),
        };
        if source.color_space != DataColorSpace::Rgb {
            return Conversion::Ignored(format!("ICC profile is {:?}, not RGB", source.color_space));
        }
        let layout = if alpha { Layout::Rgba } else { Layout::Rgb };
        match source.create_transform_8bit(
            layout,
            &ColorProfile::new_srgb(),
            layout,
            TransformOptions::default(),
        ) {
            Ok(t) => Conversion::ToSrgb(t, alpha),
            Err(e) => Conversion::Ignored(format!("ICC profile not convertible: {e}")),
        }
    }

    /// What the stats say.
    pub fn note(&self) -> String {
        match self {
            Conversion::None => "none".into(),
            Conversion::ToSrgb(..) => "converted to sRGB".into(),
            Conversion::Ignored(why) => format!("ignored: {why}"),
        }
    }

    /// `pixels` in sRGB.
    pub fn apply(&self, pixels: Pixels) -> Result<Pixels, String> {
        let Conversion::ToSrgb(transform, alpha) = self else { return Ok(pixels) };
        if *alpha != pixels.alpha {
            return Err("ICC conversion built for another pixel layout".into());
        }
        let mut out = vec![0u8; pixels.data.len()];
        transform.transform(&pixels.data, &mut out).map_err(|e| format!("ICC conversion: {e}"))?;
        Ok(Pixels { data: out, ..pixels })
    }
}
