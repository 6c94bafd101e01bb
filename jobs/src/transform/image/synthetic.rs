//! Photo-like test and benchmark pictures, made in code: smooth colour
//! gradients (sky, shading) with per-pixel grain, so JPEG compresses them
//! about as well as a real photo (roughly 1-3 bits a pixel at q90), not
//! to nothing as a flat colour would.

use crate::synthetic::Rng;

/// `width * height` RGB pixels, the same for the same seed.
pub fn photo(width: u32, height: u32, seed: &[u8]) -> Vec<u8> {
    let mut rng = Rng::from_bytes(seed);
    let mut phase = || (rng.next_u64() % 628) as f32 / 100.0;
    let (p0, p1, p2, p3) = (phase(), phase(), phase(), phase());
    let wave = |n: u32, freq: f32, p: f32| -> Vec<f32> {
        (0..n).map(|i| (i as f32 / n.max(1) as f32 * freq + p).sin()).collect()
    };
    let (cols_a, cols_b) = (wave(width, 5.0, p0), wave(width, 13.0, p1));
    let (rows_a, rows_b) = (wave(height, 3.0, p2), wave(height, 11.0, p3));
    let mut data = Vec::with_capacity(width as usize * height as usize * 3);
    let mut grain = Rng::from_bytes(seed);
    for y in 0..height as usize {
        for x in 0..width as usize {
            let n = grain.next_u64();
            let base = [
                120.0 + 70.0 * cols_a[x] * rows_a[y] + 30.0 * cols_b[x],
                110.0 + 60.0 * rows_a[y] + 25.0 * cols_b[x] * rows_b[y],
                100.0 + 80.0 * cols_a[x] + 20.0 * rows_b[y],
            ];
            for (c, v) in base.into_iter().enumerate() {
                let noise = ((n >> (c * 8)) & 31) as f32 - 16.0;
                data.push((v + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    data
}
