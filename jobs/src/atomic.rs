//! Atomic file writes: a reader sees either no file or the whole file.
//!
//! Every file is written under a temporary name in its final directory,
//! flushed to stable storage (fsync), renamed over the final name, and then
//! the directory is fsynced so the rename itself survives a crash. A process
//! killed half-way leaves only a temporary file, which readers never list
//! (see [`is_temp_name`]) and a retry removes ([`remove_stale_temps`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Marker inside every temporary name; see [`is_temp_name`].
const TEMP_TAG: &str = ".tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary sibling name for `path`:
/// `.<name>.tmp-<pid>-<n>-<random>`. Hidden (leading dot) and unique per
/// process by the counter; the random part keeps a retried process from
/// meeting the leftovers of a killed one, which in a container has the
/// same pid (1) and counts from the same start.
pub fn temp_path_for(path: &Path) -> io::Result<PathBuf> {
    use std::hash::{BuildHasher, RandomState};
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    // RandomState's keys come from the OS's random source once per thread.
    let random = RandomState::new().hash_one(n) as u32;
    Ok(path.with_file_name(format!(".{name}{TEMP_TAG}{}-{n}-{random:08x}", std::process::id())))
}

/// True for names produced by [`temp_path_for`]; listings skip them.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_TAG)
}

/// fsyncs a directory so that entries created or renamed in it are durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The parent directory of `path` (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Reserves `bytes` of disk blocks for `file` past its end without
/// changing its size (`fallocate` with `FALLOC_FL_KEEP_SIZE`), so that
/// writing a large file does not allocate blocks page by page: on ext4
/// that makes writing 1 GB into the page cache about a third cheaper
/// (0.42 -> 0.28 s measured). Best effort: returns whether blocks were
/// reserved (file systems without it, such as NFS 4.1/EFS, say no).
/// Blocks left past the end are released by [`release_unused_blocks`].
pub fn preallocate(file: &File, bytes: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let Ok(len) = libc::off_t::try_from(bytes) else { return false };
        if len == 0 {
            return false;
        }
        // SAFETY: a valid open descriptor; fallocate reads no memory of ours.
        unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, bytes);
        false
    }
}

/// Gives back blocks [`preallocate`] reserved past the end of `file`:
/// truncating to its own size frees them.
pub fn release_unused_blocks(file: &File) -> io::Result<()> {
    file.set_len(file.metadata()?.len())
}

/// A file being written under a temporary name; [`AtomicFile::commit`]
/// publishes it, dropping it without a commit deletes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
    /// Blocks were reserved past the end ([`AtomicFile::preallocate`]).
    preallocated: bool,
}

impl AtomicFile {
    /// Creates the temporary file next to `target`.
    pub fn create(target: &Path) -> io::Result<Self> {
        // A name already taken (a leftover, however unlikely) is passed
        // over for a fresh one rather than failing the write.
        let mut attempts = 0;
        loop {
            let temp = temp_path_for(target)?;
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    let target = target.to_path_buf();
                    return Ok(AtomicFile { file: Some(file), temp, target, preallocated: false });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reserves blocks for about `bytes` of content (see [`preallocate`]);
    /// what is not used is released on commit.
    pub fn preallocate(&mut self, bytes: u64) {
        if let Some(file) = &self.file {
            self.preallocated |= preallocate(file, bytes);
        }
    }

    /// The final path this file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// fsyncs the data, renames it over the target and fsyncs the directory.
    /// Its errors are the bare I/O errors (callers name the file); a
    /// [`CommitBatch`] names them itself.
    pub fn commit(mut self) -> io::Result<()> {
        self.sync()?;
        let dir = parent_of(&self.target).to_path_buf();
        self.rename()?;
        fsync_dir(&dir)
    }

    /// Makes the content durable under the temporary name: blocks
    /// reserved past the end are given back, then fsync.
    fn sync(&mut self) -> io::Result<()> {
        self.release_reserved()?;
        let file = self.file.as_ref().ok_or_else(|| io::Error::other("atomic file already committed"))?;
        file.sync_all()
    }

    /// Gives back blocks reserved past the end ([`AtomicFile::preallocate`]).
    fn release_reserved(&mut self) -> io::Result<()> {
        let file = self.file.as_ref().ok_or_else(|| io::Error::other("atomic file already committed"))?;
        if self.preallocated {
            release_unused_blocks(file)?;
            self.preallocated = false;
        }
        Ok(())
    }

    /// Renames the (synced) temporary file over the target.
    fn rename(mut self) -> io::Result<()> {
        drop(self.file.take());
        fs::rename(&self.temp, &self.target)
    }

    fn file_mut(&mut self) -> io::Result<&mut File> {
        self.file.as_mut().ok_or_else(|| io::Error::other("atomic file already committed"))
    }

    fn named(&self, err: io::Error) -> io::Error {
        naming_file(err, "writing", &self.target)
    }
}

/// Files written under temporary names, published together by
/// [`CommitBatch::commit`]: the data of all of them is made durable first,
/// then all are renamed over their targets, then the renames are made
/// durable. The same guarantee as committing them one by one (a target is
/// only ever renamed into place after its data is on stable storage, so a
/// crash leaves each either absent or whole, and a commit that returned
/// has every rename on stable storage), for two `syncfs` per file system
/// instead of an fsync per file and per directory: on ext4 without a
/// journal every fsync writes its inode's table block synchronously, and
/// a batch's inodes share a few blocks; on NFS (EFS) each fsync is a
/// COMMIT round trip of its own. `syncfs` reports the file system's
/// writeback errors since the descriptor was opened (Linux >= 5.8), so a
/// failed write of any file of the batch fails the commit. A single file
/// is committed with fsyncs, as [`AtomicFile::commit`] does.
/// Dropped without a commit, it removes every temporary file.
#[derive(Debug, Default)]
pub struct CommitBatch {
    files: Vec<AtomicFile>,
}

impl CommitBatch {
    /// Adds a written file, to be published with the others.
    pub fn push(&mut self, file: AtomicFile) {
        self.files.push(file);
    }

    /// How many files wait to be published.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file waits.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Publishes every file (see [`CommitBatch`]); the batch is empty
    /// afterwards. An error names the file or directory it happened on;
    /// files not yet renamed then stay unpublished.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.files.len() == 1 {
            let file = self.files.remove(0);
            let target = file.target.clone();
            return file.commit().map_err(|e| naming_file(e, "committing", &target));
        }
        // One open file per file system the batch writes to: its syncfs
        // covers every file of the batch there.
        let mut devices: Vec<(u64, usize)> = Vec::new();
        for (i, file) in self.files.iter_mut().enumerate() {
            file.release_reserved().map_err(|e| naming_file(e, "syncing", &file.target))?;
            let handle =
                file.file.as_ref().ok_or_else(|| io::Error::other("atomic file already committed"))?;
            let meta =
                handle.metadata().map_err(|e| naming_file(e, "reading the metadata of", &file.target))?;
            let dev = std::os::unix::fs::MetadataExt::dev(&meta);
            if !devices.iter().any(|&(d, _)| d == dev) {
                devices.push((dev, i));
            }
        }
        for &(_, i) in &devices {
            let file = &self.files[i];
            if let Some(handle) = &file.file {
                syncfs(handle).map_err(|e| naming_file(e, "syncing the file system of", &file.target))?;
            }
        }
        let dirs: Vec<PathBuf> =
            devices.iter().map(|&(_, i)| parent_of(&self.files[i].target).to_path_buf()).collect();
        for file in self.files.drain(..) {
            let target = file.target.clone();
            file.rename().map_err(|e| naming_file(e, "renaming into place", &target))?;
        }
        for dir in &dirs {
            let handle = File::open(dir).map_err(|e| naming_file(e, "opening directory", dir))?;
            syncfs(&handle).map_err(|e| naming_file(e, "syncing the file system of", dir))?;
        }
        Ok(())
    }
}

/// Flushes the whole file system `file` is on (its data and metadata).
fn syncfs(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor; syncfs reads no memory of ours.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// `err` with the file it happened on in its message, keeping its kind for
/// the exit code: a stage reads one file and writes several at once, and
/// an error without the name does not tell which failed.
pub fn naming_file(err: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{doing} {}: {err}", path.display()))
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file_mut()?.write(buf).map_err(|e| self.named(e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file_mut()?.write_all(buf).map_err(|e| self.named(e))
    }

    /// Forwarded so that a run of slices is one `writev`, not one `write`
    /// per slice (the default).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.file_mut()?.write_vectored(bufs).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file_mut()?.flush().map_err(|e| self.named(e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Not committed: the temporary file must not linger.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Removes temporary files left in `dir` (recursively) by a killed attempt.
/// A missing directory is fine.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    remove_files_matching(dir, true, &is_temp_name)
}

/// Removes the temporary siblings of `path` (left by writers of that file
/// that were killed); returns how many. Only for a file that no other
/// writer is writing at the time.
pub fn remove_stale_temps_of(path: &Path) -> io::Result<usize> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Ok(0) };
    let prefix = format!(".{name}{TEMP_TAG}");
    remove_files_matching(parent_of(path), false, &|n: &str| n.starts_with(&prefix))
}

/// Removes the files (not directories) in `dir` whose names `matches`, in
/// its subdirectories too when `recursive`; returns how many. A missing
/// directory has none.
fn remove_files_matching(dir: &Path, recursive: bool, matches: &dyn Fn(&str) -> bool) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            if recursive {
                removed += remove_files_matching(&entry.path(), true, matches)?;
            }
        } else if entry.file_name().to_str().is_some_and(matches) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Lists the regular files under `dir` recursively, as `/`-separated paths
/// relative to `dir`, sorted bytewise, skipping temporary files. Non-UTF-8
/// names are an `InvalidData` error (the layout only ever creates UTF-8).
pub fn list_files_sorted(dir: &Path) -> io::Result<Vec<String>> {
    fn walk(base: &Path, rel: &str, out: &mut Vec<String>) -> io::Result<()> {
        let here = if rel.is_empty() { base.to_path_buf() } else { base.join(rel) };
        for entry in fs::read_dir(&here)? {
            let entry = entry?;
            let name = entry.file_name().into_string().map_err(|n| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("non-UTF-8 file name {n:?} in {}", here.display()),
                )
            })?;
            if is_temp_name(&name) {
                continue;
            }
            let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(base, &child, out)?;
            } else if kind.is_file() {
                out.push(child);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    match walk(dir, "", &mut out) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound && !dir.exists() => return Ok(out),
        Err(err) => return Err(err),
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A retried process in a container has the same pid as the killed
    /// attempt and counts temporary names from the same start: the
    /// leftovers of that attempt (named as the earlier pid-and-counter
    /// scheme named them) must not make its writes fail.
    #[test]
    fn leftovers_of_a_killed_attempt_with_the_same_pid_do_not_block_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("marker.json");
        let pid = std::process::id();
        for n in 0..256 {
            fs::write(dir.path().join(format!(".marker.json{TEMP_TAG}{pid}-{n}")), b"partial").unwrap();
        }
        write_atomic(&target, b"whole").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"whole");
        assert_eq!(remove_stale_temps_of(&target).unwrap(), 256);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// An I/O error names its file and keeps its kind (the exit code is
    /// chosen by kind); an atomic file's write errors name the target.
    #[test]
    fn io_errors_name_their_file() {
        let err =
            naming_file(io::Error::from(io::ErrorKind::StorageFull), "reading", Path::new("/efs/a.csv"));
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(err.to_string().starts_with("reading /efs/a.csv: "), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let f = AtomicFile::create(&target).unwrap();
        let err = f.named(io::Error::from_raw_os_error(libc::EIO));
        assert!(err.to_string().starts_with(&format!("writing {}: ", target.display())), "{err}");
    }

    /// Only the temporary siblings of the named file are removed.
    #[test]
    fn stale_temps_of_one_file_leave_others_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.json");
        let other = temp_path_for(&dir.path().join("b.json")).unwrap();
        fs::write(temp_path_for(&target).unwrap(), b"x").unwrap();
        fs::write(&other, b"y").unwrap();
        fs::write(dir.path().join("a.json"), b"z").unwrap();
        assert_eq!(remove_stale_temps_of(&target).unwrap(), 1);
        assert!(other.exists() && target.exists());
        assert_eq!(remove_stale_temps_of(&dir.path().join("missing/x")).unwrap(), 0);
    }

    /// Blocks reserved for a large output are given back on commit: the
    /// file has its written size and no more space than that on disk
    /// (where the file system reserves at all), and the bytes are intact.
    #[test]
    fn preallocated_blocks_are_released_on_commit() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let mut f = AtomicFile::create(&target).unwrap();
        f.preallocate(64 << 20);
        f.write_all(b"a,b\n").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"a,b\n");
        let meta = fs::metadata(&target).unwrap();
        assert_eq!(meta.len(), 4);
        assert!(meta.blocks() * 512 < 1 << 20, "{} blocks still held", meta.blocks());
    }

    #[test]
    fn commit_publishes_and_drop_discards() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!target.exists(), "visible before commit");
        assert_eq!(list_files_sorted(dir.path()).unwrap(), Vec::<String>::new());
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"hello");

        let mut g = AtomicFile::create(&dir.path().join("other")).unwrap();
        g.write_all(b"partial").unwrap();
        drop(g);
        assert_eq!(list_files_sorted(dir.path()).unwrap(), vec!["out.txt"]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A batch publishes nothing before its commit, everything at it (in
    /// several directories), and dropped uncommitted leaves nothing.
    #[test]
    fn a_batch_publishes_all_its_files_at_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let mut batch = CommitBatch::default();
        for name in ["a", "sub/b", "c"] {
            let mut f = AtomicFile::create(&dir.path().join(name)).unwrap();
            f.preallocate(16 << 20);
            f.write_all(name.as_bytes()).unwrap();
            batch.push(f);
        }
        assert_eq!(batch.len(), 3);
        assert_eq!(list_files_sorted(dir.path()).unwrap(), Vec::<String>::new());
        batch.commit().unwrap();
        assert!(batch.is_empty());
        assert_eq!(list_files_sorted(dir.path()).unwrap(), vec!["a", "c", "sub/b"]);
        assert_eq!(fs::read(dir.path().join("sub/b")).unwrap(), b"sub/b");
        // Blocks reserved past the end are given back here too.
        use std::os::unix::fs::MetadataExt;
        assert!(fs::metadata(dir.path().join("a")).unwrap().blocks() * 512 < 1 << 20);

        let mut dropped = CommitBatch::default();
        let mut f = AtomicFile::create(&dir.path().join("d")).unwrap();
        f.write_all(b"partial").unwrap();
        dropped.push(f);
        drop(dropped);
        assert_eq!(list_files_sorted(dir.path()).unwrap(), vec!["a", "c", "sub/b"]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn overwrite_is_atomic_and_stale_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/.x.tmp-1-2"), b"junk").unwrap();
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 1);
        assert_eq!(list_files_sorted(dir.path()).unwrap(), vec!["a"]);
        assert_eq!(remove_stale_temps(&dir.path().join("missing")).unwrap(), 0);
    }
}
