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
                let noise = ((n >> (c * 8)) & 15) as f32 - 8.0;
                data.push((v + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    data
}

/// A decompression bomb: a PNG whose header claims `width x height` 8-bit
/// RGB pixels and whose data is a real deflate stream of zeros, 258 bytes
/// per 13 bits (the densest deflate can be), cut after `repeats` copies: a
/// file of about `repeats * 1.6` bytes that inflates to `repeats * 258`
/// and whose header asks a trusting decoder for `width * height * 3`.
pub fn png_bomb(width: u32, height: u32, repeats: usize) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zeros_deflate(repeats));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// zlib header, then one fixed-Huffman block (not final: the stream is
/// cut, as a bomb's may be): a literal 0, then `repeats` times "length
/// 258, distance 1".
fn zeros_deflate(repeats: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `len` bits of `value`, least significant first (header fields).
        fn put(&mut self, value: u32, len: u32) {
            self.acc |= u64::from(value) << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            self.put(code.reverse_bits() >> (32 - len), len);
        }
    }
    let mut bits = Bits { out: vec![0x78, 0x01], acc: 0, n: 0 };
    bits.put(0, 1); // not the final block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // literal 0
    for _ in 0..repeats {
        bits.code(0xC5, 8); // length code 285: 258 bytes
        bits.code(0, 5); // distance code 0: distance 1
    }
    if bits.n > 0 {
        bits.out.push(bits.acc as u8);
    }
    bits.out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A photo-like JPEG (see [`photo`]) at `quality`.
pub fn photo_jpeg(width: u32, height: u32, seed: &[u8], quality: u8) -> image::ImageResult<Vec<u8>> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).write_image(
        &photo(width, height, seed),
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}
