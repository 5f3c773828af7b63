//! Decompression by magic bytes, and the hashing reader that computes a
//! layer's diff id from the uncompressed stream as it is extracted.

use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest, Sha256};

use crate::error::GraphError;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// Wraps `source` in the decompressor its first bytes call for: gzip, zstd
/// or none (plain tar). bzip2 and xz are refused by name.
pub(crate) fn decompressed<'a, R: Read + 'a>(source: R) -> Result<Box<dyn Read + 'a>, GraphError> {
    let mut buffered = BufReader::with_capacity(128 * 1024, source);
    let head = buffered
        .fill_buf()
        .map_err(|e| GraphError::InvalidArchive {
            reason: "cannot read the input".into(),
            source: Some(e),
        })?;
    if head.is_empty() {
        return Err(GraphError::InvalidArchive {
            reason: "the input is empty, not a tar archive".into(),
            source: None,
        });
    }
    if head.starts_with(GZIP_MAGIC) {
        // MultiGzDecoder: `cat a.gz b.gz` is one valid gzip stream.
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else if head.starts_with(ZSTD_MAGIC) {
        let d = zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| {
            GraphError::InvalidArchive {
                reason: "cannot start zstd decompression".into(),
                source: Some(e),
            }
        })?;
        Ok(Box::new(d))
    } else if head.starts_with(BZIP2_MAGIC) {
        Err(GraphError::InvalidArchive {
            reason: "bzip2-compressed archives are not supported (use gzip, zstd or none)".into(),
            source: None,
        })
    } else if head.starts_with(XZ_MAGIC) {
        Err(GraphError::InvalidArchive {
            reason: "xz-compressed archives are not supported (use gzip, zstd or none)".into(),
            source: None,
        })
    } else {
        Ok(Box::new(buffered))
    }
}

/// Passes bytes through while hashing them with SHA-256 and counting them.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left (tar padding after the end-of-archive blocks is
    /// part of the diff id) and returns the hex digest and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((hex::encode(self.hasher.finalize()), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// SHA-256 of `bytes` as hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(input: Vec<u8>) -> Result<Vec<u8>, GraphError> {
        let mut out = Vec::new();
        decompressed(io::Cursor::new(input))?
            .read_to_end(&mut out)
            .unwrap();
        Ok(out)
    }

    #[test]
    fn sniffs_plain_gzip_and_zstd() {
        let data = b"hello tar world".repeat(100);
        assert_eq!(read_all(data.clone()).unwrap(), data);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        assert_eq!(read_all(gz.finish().unwrap()).unwrap(), data);
        let zst = zstd::encode_all(io::Cursor::new(&data), 3).unwrap();
        assert_eq!(read_all(zst).unwrap(), data);
    }

    #[test]
    fn refuses_empty_and_unsupported_compression() {
        let err = |v: Vec<u8>| read_all(v).err().unwrap().to_string();
        assert!(err(vec![]).contains("empty"));
        assert!(err(b"BZh91AY".to_vec()).contains("bzip2"));
        assert!(err(XZ_MAGIC.to_vec()).contains("xz"));
    }

    #[test]
    fn hashing_reader_covers_everything() {
        let data = b"abcdef".to_vec();
        let mut r = HashingReader::new(io::Cursor::new(data.clone()));
        let mut first = [0u8; 2];
        r.read_exact(&mut first).unwrap();
        let (hex, n) = r.finish().unwrap();
        assert_eq!(n, 6);
        assert_eq!(hex, sha256_hex(&data));
    }
}
