//! Checksums, as lowercase hex.
//!
//! Files (done markers, manifests, S3 metadata) carry a CRC64-NVME: S3
//! computes and verifies it natively (also as a full-object checksum of
//! multipart uploads), and with carry-less multiply it runs at ~12 GB/s on
//! one core where SHA-256 with SHA-NI manages ~1.5 GB/s, which alone would
//! cost more than the whole processing budget of 1 s per GB. A CRC detects
//! corruption and truncation, not tampering; nothing here needs the latter.
//!
//! Fingerprints (which input a stage consumed, run ids) stay SHA-256: they
//! hash a few kilobytes and must not collide by construction.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::path::Path;

use crc_fast::{CrcAlgorithm, Digest as Crc};
use sha2::{Digest, Sha256};

/// Name of the file checksum, as S3 and our metadata spell it.
pub const FILE_CHECKSUM: &str = "crc64nvme";

/// Lowercase hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// SHA-256 of a byte slice, hex (fingerprints, not files).
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// The file checksum of a byte slice, hex (16 digits, big-endian).
pub fn crc64_hex(bytes: &[u8]) -> String {
    let mut crc = Crc::new(CrcAlgorithm::Crc64Nvme);
    crc.update(bytes);
    to_hex(&crc.finalize().to_be_bytes())
}

/// The 8 big-endian bytes of a hex file checksum (S3 wants them base64).
pub fn crc64_bytes(hex: &str) -> Option<[u8; 8]> {
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(u64::to_be_bytes)
}

/// Size and file checksum of a file, read in 128 KiB blocks (small enough
/// to stay in L2 between the kernel's copy and the CRC).
pub fn checksum_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut crc = Crc::new(CrcAlgorithm::Crc64Nvme);
    let mut buf = vec![0u8; 128 << 10];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, to_hex(&crc.finalize().to_be_bytes())))
}

/// A writer that checksums and counts what passes through it.
#[derive(Debug)]
pub struct ChecksumWriter<W> {
    inner: W,
    crc: Crc,
    bytes: u64,
}

impl<W: Write> ChecksumWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        ChecksumWriter { inner, crc: Crc::new(CrcAlgorithm::Crc64Nvme), bytes: 0 }
    }

    /// The inner writer, the byte count and the hex checksum.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.bytes, to_hex(&self.crc.finalize().to_be_bytes()))
    }

    /// The inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for ChecksumWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    /// Passes the slices on in one call (one `writev` for a file), then
    /// checksums the prefix the inner writer took.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.inner.write_vectored(bufs)?;
        let mut left = n;
        for b in bufs {
            if left == 0 {
                break;
            }
            let take = left.min(b.len());
            self.crc.update(&b[..take]);
            left -= take;
        }
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes all of `bufs` with as few `write_vectored` calls as the writer
/// allows (`Write::write_all_vectored` is not stable yet). `bufs` is
/// consumed: slices are advanced in place.
pub fn write_all_vectored(w: &mut dyn Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "failed to write whole buffer")),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // The CRC-64/NVME check value from the CRC catalogue.
        assert_eq!(crc64_hex(b"123456789"), "ae8b14860a799888");
        assert_eq!(crc64_bytes("ae8b14860a799888"), Some([0xae, 0x8b, 0x14, 0x86, 0x0a, 0x79, 0x98, 0x88]));
        assert_eq!(crc64_bytes("ae8b"), None);
        assert_eq!(crc64_bytes("xe8b14860a799888"), None);
    }

    #[test]
    fn writer_counts_and_checksums_every_path() {
        let mut w = ChecksumWriter::new(Vec::new());
        w.write_all(b"1234").unwrap();
        let mut slices = [IoSlice::new(b""), IoSlice::new(b"56"), IoSlice::new(b"789")];
        write_all_vectored(&mut w, &mut slices).unwrap();
        let (inner, n, hex) = w.finish();
        assert_eq!((inner.as_slice(), n), (&b"123456789"[..], 9));
        assert_eq!(hex, crc64_hex(b"123456789"));
    }

    /// A writer that takes at most 3 bytes per call, to exercise partial
    /// vectored writes.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_vectored_writes() {
        let mut w = ChecksumWriter::new(Trickle(Vec::new()));
        let mut slices =
            [IoSlice::new(b"12"), IoSlice::new(b"34567"), IoSlice::new(b""), IoSlice::new(b"89")];
        write_all_vectored(&mut w, &mut slices).unwrap();
        let (inner, n, hex) = w.finish();
        assert_eq!((inner.0.as_slice(), n), (&b"123456789"[..], 9));
        assert_eq!(hex, crc64_hex(b"123456789"));
    }
}
