//! `image_resize`: each input file is one record, an image decoded once
//! and written at every size of the spec, or rejected with its reason.
//!
//! The steps, one module each: [`spec`] (run.json and its checks),
//! [`decode`] (content sniffing, the pixel limit before decoding, JPEG
//! DCT scaling, with [`turbo`], libjpeg-turbo), [`geometry`] (boxes and factors), [`resize`]
//! (fast_image_resize), [`color`] (ICC to sRGB), [`pixels`] (orientation,
//! alpha), [`encode`], and [`record`] (what happened to the input: the
//! stats file and the reject line).

pub mod record;
pub mod spec;

#[cfg(feature = "images")]
mod color;
#[cfg(feature = "images")]
pub mod decode;
#[cfg(feature = "images")]
mod encode;
#[cfg(feature = "images")]
pub mod geometry;
#[cfg(feature = "images")]
pub mod pixels;
#[cfg(feature = "images")]
mod resize;
#[cfg(feature = "images")]
pub mod synthetic;
#[cfg(feature = "images")]
mod turbo;

pub use record::{ImageStats, OutputRecord, Reject};
pub use spec::{ImageResizeSpec, ResizePlan};

#[cfg(feature = "images")]
pub use run::{outputs, read_input, run};

#[cfg(feature = "images")]
mod run;

#[cfg(all(test, feature = "images"))]
mod tests;
