//! One SSH connection with its SFTP session: connect (with a time limit),
//! check the server against the pinned host key, authenticate with the
//! private key, then list and stat files and open them for reading.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;

use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::SftpSource;
use crate::sftp::host_key::{HostKeyPin, fingerprint};
use crate::sftp::secret;

/// How long the TCP connect, the SSH handshake and authentication may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one SFTP request may wait for its answer.
pub const REQUEST_TIMEOUT_SECS: u64 = 30;

/// The server, the pinned host key and the private key: everything a
/// connection needs, loaded once.
#[derive(Clone)]
pub struct SftpClient {
    source: SftpSource,
    pin: HostKeyPin,
    key: Arc<PrivateKey>,
}

impl std::fmt::Debug for SftpClient {
    // The private key stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpClient")
            .field("host", &self.source.host)
            .field("port", &self.source.port)
            .finish()
    }
}

impl SftpClient {
    /// Checks `source` and reads the private key from Secrets Manager with
    /// a client from the environment (the jobs).
    pub async fn from_source(source: &SftpSource) -> JobResult<Self> {
        Self::load(&secret::client().await, source).await
    }

    /// Checks `source` and reads the private key with `secrets` (the prep
    /// Lambda's client).
    pub async fn load(secrets: &aws_sdk_secretsmanager::Client, source: &SftpSource) -> JobResult<Self> {
        source.check().map_err(|e| JobError::config(format!("source.{e}")))?;
        let pin = HostKeyPin::parse(&source.host_key)?;
        let key = secret::private_key(secrets, &source.private_key_secret_arn).await?;
        Ok(SftpClient { source: source.clone(), pin, key: Arc::new(key) })
    }

    /// The source this client reads.
    pub fn source(&self) -> &SftpSource {
        &self.source
    }

    /// `user@host:port`, for messages.
    pub fn server(&self) -> String {
        format!("{}@{}:{}", self.source.user, self.source.host, self.source.port)
    }

    /// Opens a connection and its SFTP session.
    pub async fn connect(&self) -> JobResult<Session> {
        let server = self.server();
        let seen = Arc::new(Mutex::new(None));
        let checker = Checker { pin: self.pin.clone(), seen: Arc::clone(&seen) };
        let mut config = client::Config {
            inactivity_timeout: Some(Duration::from_secs(REQUEST_TIMEOUT_SECS * 2)),
            keepalive_interval: Some(Duration::from_secs(15)),
            nodelay: true,
            ..Default::default()
        };
        if let Some(algorithms) = self.pin.algorithms() {
            config.preferred.key = Cow::Owned(algorithms);
        }
        let addr = (self.source.host.as_str(), self.source.port);
        let handshake = async {
            let mut handle = client::connect(Arc::new(config), addr, checker).await?;
            let hash = handle.best_supported_rsa_hash().await?.flatten();
            let auth = handle
                .authenticate_publickey(
                    &self.source.user,
                    PrivateKeyWithHashAlg::new(Arc::clone(&self.key), hash),
                )
                .await?;
            Ok::<_, russh::Error>((handle, auth))
        };
        let (handle, auth) = match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
            Err(_) => {
                return Err(JobError::retryable(format!(
                    "{server}: no SSH connection within {}s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(russh::Error::UnknownKey)) => {
                let shown = seen.lock().map(|s| s.clone()).unwrap_or_default().unwrap_or_default();
                return Err(JobError::config(format!(
                    "source.host_key: the server {server} presented host key {shown}, which is not the pinned \
                     one; if the server's key was changed on purpose, set source.host_key to its new \
                     known_hosts line or SHA256 fingerprint, otherwise something else answers at that address"
                )));
            }
            Ok(Err(e)) => return Err(ssh_error(&server, "SSH handshake", e)),
            Ok(Ok(done)) => done,
        };
        if !auth.success() {
            return Err(JobError::new(
                ExitCode::NoPermission,
                format!(
                    "{server}: the server refused key authentication with the key in \
                     source.private_key_secret_arn (public key {}); is it in the user's authorized_keys?",
                    fingerprint(self.key.public_key())
                ),
            ));
        }
        let open = async {
            let channel = handle.channel_open_session().await?;
            channel.request_subsystem(true, "sftp").await?;
            Ok::<_, russh::Error>(channel)
        };
        let channel = match tokio::time::timeout(CONNECT_TIMEOUT, open).await {
            Err(_) => return Err(JobError::retryable(format!("{server}: no SFTP channel within 20s"))),
            Ok(Err(e)) => return Err(ssh_error(&server, "opening the sftp subsystem", e)),
            Ok(Ok(channel)) => channel,
        };
        let sftp = tokio::time::timeout(CONNECT_TIMEOUT, SftpSession::new(channel.into_stream()))
            .await
            .map_err(|_| JobError::retryable(format!("{server}: no SFTP version answer within 20s")))?
            .map_err(|e| sftp_error(&server, "starting SFTP", e))?;
        sftp.set_timeout(REQUEST_TIMEOUT_SECS);
        tracing::debug!(server, "sftp connected");
        Ok(Session { _handle: handle, sftp, server })
    }
}

/// The host key check russh calls during the handshake; remembers what the
/// server showed, for the error message.
struct Checker {
    pin: HostKeyPin,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        // A certificate is judged by the key it certifies: no CA is
        // configured, so the pin is the only trust there is.
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => {
                russh::keys::PublicKey::new(cert.public_key().clone(), cert.comment())
            }
        };
        let shown = format!("{} ({})", fingerprint(&key), key.algorithm().as_str());
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(shown);
        }
        Ok(self.pin.matches(&key))
    }
}

/// An open SFTP session (the SSH connection closes when it is dropped).
pub struct Session {
    _handle: client::Handle<Checker>,
    sftp: SftpSession,
    server: String,
}

/// A regular file found by [`Session::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Path below the listed directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: u64,
}

impl Session {
    /// `user@host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Regular files under `directory` whose name matches `glob`, in
    /// subdirectories too when `recursive`, sorted by path. Symbolic links
    /// and other special files are skipped (a link could lead anywhere on
    /// the server).
    pub async fn list(&self, directory: &str, glob: &str, recursive: bool) -> JobResult<Vec<RemoteFile>> {
        let mut files = Vec::new();
        let mut pending = vec![String::new()];
        let mut skipped = 0usize;
        while let Some(relative) = pending.pop() {
            let dir = remote_path(directory, &relative);
            let entries = self
                .sftp
                .read_dir(dir.as_str())
                .await
                .map_err(|e| sftp_error(&self.server, &format!("listing {dir}"), e))?;
            for entry in entries {
                let name = entry.file_name();
                let path = if relative.is_empty() { name.clone() } else { format!("{relative}/{name}") };
                let meta = entry.metadata();
                let kind = meta.file_type();
                if kind.is_dir() {
                    if recursive {
                        pending.push(path);
                    }
                } else if kind.is_file() {
                    if super::glob::matches(glob, &name) {
                        files.push(RemoteFile {
                            path,
                            size: meta.size.unwrap_or(0),
                            mtime: meta.mtime.map(u64::from).unwrap_or(0),
                        });
                    }
                } else {
                    skipped += 1;
                }
            }
        }
        if skipped > 0 {
            tracing::info!(directory, skipped, "skipped entries that are neither files nor directories");
        }
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// (size, mtime) of `path`, following links.
    pub async fn stat(&self, path: &str) -> JobResult<(u64, u64)> {
        let meta = self
            .sftp
            .metadata(path)
            .await
            .map_err(|e| sftp_error(&self.server, &format!("stat {path}"), e))?;
        Ok((meta.size.unwrap_or(0), meta.mtime.map(u64::from).unwrap_or(0)))
    }

    /// Opens `path` for reading.
    pub async fn open(&self, path: &str) -> JobResult<russh_sftp::client::fs::File> {
        self.sftp.open(path).await.map_err(|e| sftp_error(&self.server, &format!("open {path}"), e))
    }
}

/// `directory` joined with a relative path (`""` is the directory itself).
pub fn remote_path(directory: &str, relative: &str) -> String {
    let base = directory.trim_end_matches('/');
    match (base.is_empty(), relative.is_empty()) {
        (_, true) if base.is_empty() => "/".to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{relative}"),
    }
}

/// An SSH transport error: the network, the server going away, a timeout.
/// Only a server that shares no algorithm with us is a setting to fix.
fn ssh_error(server: &str, doing: &str, err: russh::Error) -> JobError {
    let exit = match err {
        russh::Error::NoCommonAlgo { .. } | russh::Error::Keys(_) | russh::Error::CouldNotReadKey => {
            ExitCode::Config
        }
        _ => ExitCode::TempFail,
    };
    JobError::new(exit, format!("{server}: {doing}: {err}"))
}

/// An SFTP error: the server's status code says whether a retry can help.
pub fn sftp_error(server: &str, doing: &str, err: SftpError) -> JobError {
    let exit = match &err {
        SftpError::Status(status) => match status.status_code {
            StatusCode::NoSuchFile => ExitCode::NoInput,
            StatusCode::PermissionDenied => ExitCode::NoPermission,
            StatusCode::OpUnsupported => ExitCode::Config,
            StatusCode::BadMessage => ExitCode::DataError,
            _ => ExitCode::TempFail,
        },
        _ => ExitCode::TempFail,
    };
    JobError::new(exit, format!("{server}: {doing}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::remote_path;

    #[test]
    fn remote_paths() {
        assert_eq!(remote_path("/out", ""), "/out");
        assert_eq!(remote_path("/out/", "a/b.xml"), "/out/a/b.xml");
        assert_eq!(remote_path("/", ""), "/");
        assert_eq!(remote_path("/", "a.xml"), "/a.xml");
    }
}
