//! A real OpenSSH server (Debian's `openssh-server`, installed by
//! scripts/setup-tools.sh) on a free 127.0.0.1 port, for the life of one
//! fixture value: key authentication only, a throwaway host key and
//! authorized_keys, its own `internal-sftp`, running as the current user.
//! Keys come from `ssh-keygen`; the served directory is [`SshServer::root`].
//!
//! Run as root (a container), sshd is started with `CAP_DAC_OVERRIDE` and
//! `CAP_DAC_READ_SEARCH` dropped from its bounding set, so file modes bind
//! it as they would bind an ordinary account: a `chmod 000` file is
//! refused, as on a real server.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Where Debian installs sshd; sshd re-executes itself and insists on an
/// absolute path.
pub const SSHD: &str = "/usr/sbin/sshd";

/// A key pair made by `ssh-keygen`.
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// The private key file's text (OpenSSH format).
    pub private: String,
    /// `ssh-ed25519 AAAA... comment`.
    pub public: String,
    /// `SHA256:...` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// Makes an ed25519 key pair in `dir` named `name`.
pub fn keygen(dir: &Path, name: &str) -> Result<KeyPair> {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .context("running ssh-keygen (install openssh-client)")?;
    if !status.success() {
        bail!("ssh-keygen failed: {status}");
    }
    let printed = Command::new("ssh-keygen").arg("-lf").arg(path.with_extension("pub")).output()?;
    let fingerprint = String::from_utf8_lossy(&printed.stdout)
        .split_whitespace()
        .nth(1)
        .context("ssh-keygen -l printed no fingerprint")?
        .to_string();
    Ok(KeyPair {
        private: std::fs::read_to_string(&path)?,
        public: std::fs::read_to_string(path.with_extension("pub"))?.trim().to_string(),
        fingerprint,
    })
}

/// True when sshd is installed.
pub fn sshd_installed() -> bool {
    Path::new(SSHD).exists()
}

/// A running sshd. Killed when dropped.
pub struct SshServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    host: KeyPair,
    client: KeyPair,
    user: String,
}

impl SshServer {
    /// Starts sshd on a free port with a new host key, one authorized
    /// client key, and an empty served directory.
    pub fn start() -> Result<Self> {
        if !sshd_installed() {
            bail!("{SSHD} is missing: run `bash scripts/setup-tools.sh` (installs openssh-server)");
        }
        let dir = tempfile::tempdir()?;
        let host = keygen(dir.path(), "host_ed25519")?;
        let client = keygen(dir.path(), "client_ed25519")?;
        std::fs::write(dir.path().join("authorized_keys"), format!("{}\n", client.public))?;
        std::fs::create_dir(dir.path().join("files"))?;
        let user = current_user()?;
        let mut server = SshServer { child: None, dir, port: 0, host, client, user };
        server.restart()?;
        Ok(server)
    }

    /// Starts sshd (again, after [`Self::kill`]) on a new free port, with
    /// the same keys and files.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        // The privilege separation directory sshd checks for; systemd makes
        // it on a booted host, a container may not have it.
        std::fs::create_dir_all("/run/sshd").ok();
        self.port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let d = self.dir.path();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile none\nAuthorizedKeysFile {keys}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nAllowUsers {user}\n\
             Subsystem sftp internal-sftp\nMaxStartups 100\nMaxSessions 100\nLogLevel VERBOSE\n",
            port = self.port,
            host = d.join("host_ed25519").display(),
            keys = d.join("authorized_keys").display(),
            user = self.user,
        );
        let config_path = d.join("sshd_config");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(d.join("sshd.log"))?;
        let mut command = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--bounding-set", "-dac_override,-dac_read_search", SSHD]);
            c
        } else {
            Command::new(SSHD)
        };
        let child = command
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {SSHD}"))?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(20))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("sshd exited early ({status}): {}", self.log_text());
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("sshd did not listen on {} within {limit:?}: {}", self.addr(), self.log_text())
    }

    /// Stops sshd (connections it serves end with it).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user to log in as (the current one).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The directory the tests serve files from (an absolute path on the
    /// server, which shares this machine's file system).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("files")
    }

    /// The authorized client key.
    pub fn client_key(&self) -> &KeyPair {
        &self.client
    }

    /// The server's host key.
    pub fn host_key(&self) -> &KeyPair {
        &self.host
    }

    /// A `known_hosts` line for the server's host key.
    pub fn known_hosts_line(&self) -> String {
        let mut words = self.host.public.split_whitespace();
        let (kind, key) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
        format!("[127.0.0.1]:{} {kind} {key}", self.port)
    }

    /// Replaces the host key with a new one (a server reinstalled, or
    /// another server at the same address); takes effect at restart.
    pub fn change_host_key(&mut self) -> Result<()> {
        for name in ["host_ed25519", "host_ed25519.pub"] {
            std::fs::remove_file(self.dir.path().join(name))?;
        }
        self.host = keygen(self.dir.path(), "host_ed25519")?;
        self.restart()
    }

    /// A new key pair the server does not authorize.
    pub fn stranger_key(&self) -> Result<KeyPair> {
        let _ = std::fs::remove_file(self.dir.path().join("stranger"));
        let _ = std::fs::remove_file(self.dir.path().join("stranger.pub"));
        keygen(self.dir.path(), "stranger")
    }

    /// What sshd logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn is_root() -> bool {
    // `id -u` rather than libc: testkit has no libc dependency.
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

fn current_user() -> Result<String> {
    let out = Command::new("id").arg("-un").output().context("running id -un")?;
    let user = String::from_utf8(out.stdout)?.trim().to_string();
    if user.is_empty() {
        bail!("id -un printed no user name");
    }
    Ok(user)
}
