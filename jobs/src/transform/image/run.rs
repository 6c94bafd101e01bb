//! One image through the steps: read (bounded), decode, orient, convert,
//! resize to each size, encode; or the reject that stops it.

use std::cell::RefCell;
use std::io::Read;

use super::color::Conversion;
use super::decode::{decode, transposes};
use super::encode::encode;
use super::geometry::stored_box;
use super::record::{ImageStats, OutputRecord, Reject};
use super::resize::resize;
use super::spec::ResizePlan;

/// Reads at most `limit` bytes of `input`; a longer input is a reject
/// (read no further than the limit and one byte). `size_hint` (the file's
/// size, 0 when unknown) sizes the buffer once: grown by doubling, a
/// 5 MB photo was copied about twice over and its pages faulted in anew
/// at each step.
pub fn read_input<R: Read>(input: R, limit: u64, size_hint: u64) -> std::io::Result<Result<Vec<u8>, Reject>> {
    let capacity = usize::try_from(size_hint.min(limit).saturating_add(1)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    input.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(Err(Reject::new(
            "inputTooLarge",
            format!("the file is larger than max_input_bytes {limit}; not read"),
        )));
    }
    Ok(Ok(bytes))
}

/// The output files of one input, `(file name, bytes)`, e.g.
/// `("224x224.jpg", ...)`, all made before any is handed over so
/// an input gets all its outputs or none; or the reject. `stats`
/// gets what was learnt on the way (format, size, orientation).
pub fn outputs(
    plan: &ResizePlan,
    input: &[u8],
    stats: &mut ImageStats,
) -> Result<Vec<(String, Vec<u8>)>, Reject> {
    RESIZER.with(|resizer| outputs_with(&mut resizer.borrow_mut(), plan, input, stats))
}

thread_local! {
    // One resampler per thread, kept across images: it holds only the
    // CPU features and a scratch buffer, which reused is not allocated and
    // faulted in again for every image (at most the largest image's).
    static RESIZER: RefCell<fast_image_resize::Resizer> = RefCell::new(fast_image_resize::Resizer::new());
}

fn outputs_with(
    resizer: &mut fast_image_resize::Resizer,
    plan: &ResizePlan,
    input: &[u8],
    stats: &mut ImageStats,
) -> Result<Vec<(String, Vec<u8>)>, Reject> {
    let decoded = decode(input, plan)?;
    stats.format = Some(decoded.format.to_string());
    stats.width = Some(decoded.full.0);
    stats.height = Some(decoded.full.1);
    stats.exif_orientation = Some(decoded.orientation.to_exif());
    stats.jpeg_dct_scale = (decoded.format == "jpeg").then(|| format!("{}/8", decoded.dct_eighths));
    let conversion = Conversion::for_profile(decoded.icc.as_deref(), decoded.pixels.alpha);
    stats.icc = Some(conversion.note());
    let transposed = transposes(decoded.orientation);
    let mut files = Vec::with_capacity(plan.sizes.len());
    for &size in &plan.sizes {
        let failed = |e: String| Reject::new("processingFailed", format!("{}: {e}", size.name()));
        let boxed = stored_box(size, transposed);
        let out = resize(resizer, &decoded.pixels, plan.mode, boxed, plan.filter, plan.background)
            .map_err(failed)?;
        let out = conversion.apply(out).map_err(failed)?.oriented(decoded.orientation);
        let bytes = encode(out, plan.format, plan.quality, plan.background).map_err(failed)?;
        files.push((format!("{}.{}", size.name(), plan.format.extension()), bytes));
    }
    Ok(files)
}

/// Runs one input through: `write(file name, bytes)` stores an
/// output and returns its path as the record shows it. Returns the
/// stats (one record in; out or rejected) and the reject, if any.
/// Only `write`'s errors are errors: the input's are rejects.
pub fn run<E>(
    plan: &ResizePlan,
    input: Result<Vec<u8>, Reject>,
    mut write: impl FnMut(&str, &[u8]) -> Result<String, E>,
) -> Result<(ImageStats, Option<Reject>), E> {
    let mut stats = ImageStats { records_in: 1, ..ImageStats::default() };
    let result = input.and_then(|bytes| {
        stats.bytes_in = bytes.len() as u64;
        outputs(plan, &bytes, &mut stats)
    });
    match result {
        Ok(files) => {
            for (name, bytes) in files {
                let path = write(&name, &bytes)?;
                let size = name.split('.').next().unwrap_or_default().to_string();
                stats.outputs.push(OutputRecord { size, path, bytes: bytes.len() as u64 });
            }
            stats.records_out = 1;
            Ok((stats, None))
        }
        Err(reject) => {
            stats.rejects.add(None, reject.rule);
            stats.error = Some(format!("{}: {}", reject.rule, reject.reason));
            Ok((stats, Some(reject)))
        }
    }
}
