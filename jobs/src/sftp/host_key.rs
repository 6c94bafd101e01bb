//! `source.host_key`: the one server key an SFTP connection accepts. A
//! `known_hosts` line (or a bare `type base64` public key) pins the key
//! itself; `SHA256:...` pins its fingerprint as `ssh-keygen -l` prints it.
//! There is no "accept whatever the server shows first".

use russh::keys::{Algorithm, HashAlg, PublicKey};

use crate::exit::{JobError, JobResult};

/// A parsed pin.
#[derive(Debug, Clone)]
pub enum HostKeyPin {
    /// The server's public key.
    Key(PublicKey),
    /// The SHA-256 fingerprint, `SHA256:` and unpadded base64.
    Fingerprint(String),
}

impl HostKeyPin {
    /// Parses `source.host_key`; a bad one is a config error (78) naming
    /// the field.
    pub fn parse(pin: &str) -> JobResult<Self> {
        let pin = pin.trim();
        contract::run_config::check_host_key(pin)
            .map_err(|e| JobError::config(format!("source.host_key: {e}")))?;
        if pin.starts_with("SHA256:") {
            return Ok(HostKeyPin::Fingerprint(pin.trim_end_matches('=').to_string()));
        }
        let (_, base64) = contract::run_config::known_hosts_key(pin)
            .ok_or_else(|| JobError::config("source.host_key: not a known_hosts line"))?;
        let key = russh::keys::parse_public_key_base64(base64)
            .map_err(|e| JobError::config(format!("source.host_key: the key does not decode: {e}")))?;
        Ok(HostKeyPin::Key(key))
    }

    /// True when `key` is the pinned key.
    pub fn matches(&self, key: &PublicKey) -> bool {
        match self {
            HostKeyPin::Key(pinned) => pinned.key_data() == key.key_data(),
            HostKeyPin::Fingerprint(pinned) => fingerprint(key) == *pinned,
        }
    }

    /// The host key algorithms to offer: the pinned key's own when the key
    /// is pinned (a server with several host keys then shows that one),
    /// `None` (the client's defaults) for a fingerprint.
    pub fn algorithms(&self) -> Option<Vec<Algorithm>> {
        match self {
            HostKeyPin::Key(key) => match key.algorithm() {
                Algorithm::Rsa { .. } => Some(vec![
                    Algorithm::Rsa { hash: Some(HashAlg::Sha512) },
                    Algorithm::Rsa { hash: Some(HashAlg::Sha256) },
                    Algorithm::Rsa { hash: None },
                ]),
                other => Some(vec![other]),
            },
            HostKeyPin::Fingerprint(_) => None,
        }
    }
}

/// `SHA256:<base64>` of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two keys from `ssh-keygen -t ed25519`; the first one's fingerprint
    // as `ssh-keygen -lf` printed it.
    const ED25519: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIDGOVyQW+ECl/XjzTjW4j73UFa6tWB1USrH5xTeqdMSX";
    const ED25519_SHA256: &str = "SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw";
    const OTHER: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIPPossb6r6EgE0aEw2UJwid0MdWIYJ+x5FV/NRkm1oY4";

    #[test]
    fn a_known_hosts_line_and_its_fingerprint_pin_the_same_key() {
        let key = russh::keys::parse_public_key_base64(ED25519).unwrap();
        let line = HostKeyPin::parse(&format!("[sftp.example.com]:2222 ssh-ed25519 {ED25519}")).unwrap();
        assert!(line.matches(&key));
        assert_eq!(fingerprint(&key), ED25519_SHA256);
        let print = HostKeyPin::parse(ED25519_SHA256).unwrap();
        assert!(print.matches(&key));
        let other = russh::keys::parse_public_key_base64(OTHER).unwrap();
        assert!(!line.matches(&other));
        assert!(!print.matches(&other));
        assert_eq!(line.algorithms(), Some(vec![Algorithm::Ed25519]));
    }

    #[test]
    fn a_bad_pin_is_a_config_error_naming_the_field() {
        for pin in ["", "accept-new", "SHA256:abc", "host ssh-ed25519 AAAAnotbase64!!!!!!!!"] {
            let err = HostKeyPin::parse(pin).unwrap_err();
            assert_eq!(err.exit, crate::ExitCode::Config);
            assert!(err.message.starts_with("source.host_key: "), "{}", err.message);
        }
    }
}
