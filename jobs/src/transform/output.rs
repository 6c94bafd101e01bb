//! The main output of a transform, collected into blocks: records are
//! appended to a block that stays in cache and the writer gets one
//! `write` per [`OUT_BLOCK`] bytes, so it needs no buffering of its own.
//! One copy into the block and one `write` per 256 KiB measured cheaper
//! than `writev` straight from the read buffer, whose many short segments
//! the kernel copies page by page.

use std::io::{self, Write};

/// The writer is handed the output in blocks of about this size.
pub const OUT_BLOCK: usize = 256 << 10;

/// Output not yet handed to the writer, and the writer.
pub struct OutputBlock<'w> {
    block: Vec<u8>,
    out: &'w mut dyn Write,
}

impl<'w> OutputBlock<'w> {
    /// A block for `out`. It starts empty and grows (doubling) to about
    /// [`OUT_BLOCK`] plus one append, then is reused: a small file
    /// allocates only what it writes, where reserving the whole block per
    /// file cost more than validating a file of a few kilobytes.
    pub fn new(out: &'w mut dyn Write) -> Self {
        OutputBlock { block: Vec::new(), out }
    }

    /// The block, to append records to; call [`Self::hand_over_if_full`]
    /// after.
    #[inline]
    pub fn block(&mut self) -> &mut Vec<u8> {
        &mut self.block
    }

    /// Hands the block to the writer once it holds [`OUT_BLOCK`] bytes.
    #[inline]
    pub fn hand_over_if_full(&mut self) -> io::Result<()> {
        if self.block.len() >= OUT_BLOCK {
            self.out.write_all(&self.block)?;
            self.block.clear();
        }
        Ok(())
    }

    /// Hands over what is left and flushes the writer.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.block.is_empty() {
            self.out.write_all(&self.block)?;
            self.block.clear();
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the size of every write it gets.
    #[derive(Default)]
    struct Writes(Vec<usize>, bool);

    impl Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.push(bytes.len());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.1 = true;
            Ok(())
        }
    }

    #[test]
    fn the_writer_gets_whole_blocks_then_the_rest_and_a_flush() {
        let mut writes = Writes::default();
        let mut output = OutputBlock::new(&mut writes);
        for _ in 0..5300 {
            output.block().extend_from_slice(&[b'x'; 99]);
            output.block().push(b'\n');
            output.hand_over_if_full().expect("in-memory write");
        }
        output.finish().expect("in-memory write");
        let total: usize = writes.0.iter().sum();
        assert_eq!(total, 530_000);
        assert_eq!(writes.0.len(), 3, "two full blocks and the rest: {:?}", writes.0);
        assert!(writes.0[..2].iter().all(|&n| (OUT_BLOCK..OUT_BLOCK + 100).contains(&n)));
        assert!(writes.1, "finish flushes the writer");
    }
}
