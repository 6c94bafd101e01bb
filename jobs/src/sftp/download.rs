//! One listed file from the SFTP server into `data/`, atomically: streamed
//! into an [`AtomicFile`], checksummed on the way, resumed at the byte it
//! stopped at after a dropped connection (a bounded number of times), and
//! committed only when the server still shows the size and mtime prep
//! listed, before and after the transfer.

use std::io::{SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::atomic::AtomicFile;
use crate::checksum::ChecksumWriter;
use crate::exit::{JobError, JobResult};
use crate::layout::{FileEntry, SliceFile};
use crate::sftp::client::{Session, SftpClient, remote_path};

/// Connections one file may use: the first and this many less one
/// reconnects, after which the failure is the job's (exit 75).
pub const ATTEMPTS: u32 = 4;
/// Read buffer size.
const CHUNK: usize = 256 << 10;

/// Downloads `file` (listed below the source directory) to `target`,
/// reusing `session` and replacing it when the connection drops.
pub async fn download(
    client: &SftpClient,
    session: &mut Option<Session>,
    file: &SliceFile,
    target: &Path,
    rel_name: &str,
) -> JobResult<FileEntry> {
    let remote = remote_path(&client.source().directory, &file.path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| JobError::io(parent.display(), e))?;
    }
    let atomic = AtomicFile::create(target).map_err(|e| JobError::io(target.display(), e))?;
    let mut out = ChecksumWriter::new(atomic);
    let mut offset = 0u64;
    let mut attempt = 1;
    let mut delay = Duration::from_millis(200);
    loop {
        let result = match session {
            Some(open) => transfer(open, &remote, file, &mut out, &mut offset, target).await,
            None => match client.connect().await {
                Ok(open) => {
                    let open = session.insert(open);
                    transfer(open, &remote, file, &mut out, &mut offset, target).await
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => break,
            Err(e) if e.exit.is_retryable() && attempt < ATTEMPTS => {
                tracing::warn!(attempt, offset, error = %e, path = remote, "sftp transfer interrupted; reconnecting");
                // The connection may be half-dead; a new one is cheap next
                // to a stuck transfer.
                *session = None;
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => {
                // The message names the server and the file already.
                *session = None;
                return Err(e);
            }
        }
    }
    let (atomic, bytes, crc64nvme) = out.finish();
    if bytes != file.size {
        return Err(JobError::data(format!(
            "{remote}: got {bytes} bytes, prep listed {} (the file changed)",
            file.size
        )));
    }
    atomic.commit().map_err(|e| JobError::io(target.display(), e))?;
    tracing::debug!(path = remote, bytes, attempts = attempt, "downloaded");
    Ok(FileEntry { path: rel_name.to_string(), bytes, crc64nvme })
}

/// Reads `remote` from `offset` to its end into `out`, advancing `offset`
/// as bytes arrive (so a retry resumes there).
async fn transfer(
    session: &Session,
    remote: &str,
    file: &SliceFile,
    out: &mut ChecksumWriter<AtomicFile>,
    offset: &mut u64,
    target: &Path,
) -> JobResult<()> {
    unchanged(remote, file, session.stat(remote).await?, "before")?;
    let mut handle = session.open(remote).await?;
    if *offset > 0 {
        handle
            .seek(SeekFrom::Start(*offset))
            .await
            .map_err(|e| JobError::retryable(format!("{remote}: seeking to byte {offset}: {e}")))?;
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = handle
            .read(&mut buf)
            .await
            .map_err(|e| JobError::retryable(format!("{remote}: reading at byte {offset}: {e}")))?;
        if n == 0 {
            break;
        }
        *offset += n as u64;
        if *offset > file.size {
            return Err(JobError::data(format!(
                "{remote}: grew beyond the {} bytes prep listed while it was downloaded",
                file.size
            )));
        }
        out.write_all(&buf[..n]).map_err(|e| JobError::io(target.display(), e))?;
    }
    drop(handle);
    unchanged(remote, file, session.stat(remote).await?, "after")
}

/// Refuses a file whose (size, mtime) is not what prep listed: a writer is
/// still at it, or it was replaced since. A retry would meet the same
/// mismatch with this run's slice, so it is a data error (65); the next
/// run lists the file anew.
fn unchanged(remote: &str, file: &SliceFile, (size, mtime): (u64, u64), when: &str) -> JobResult<()> {
    if size == file.size && mtime == file.mtime {
        return Ok(());
    }
    Err(JobError::data(format!(
        "{remote} changed since prep listed it (size {} -> {size}, mtime {} -> {mtime}, seen {when} the \
         download); nothing was kept",
        file.size, file.mtime
    )))
}
