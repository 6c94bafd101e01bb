//! go-plugin's handshake: the environment Terraform sets when it launches a
//! provider, and the single stdout line that tells it where to connect.

use base64::Engine;

/// Terraform's magic cookie: proves we were launched by Terraform.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// go-plugin's own protocol version (the first field of the line).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol this provider speaks.
pub const APP_PROTOCOL_VERSION: u32 = 6;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error(
        "This binary is a plugin. These are not meant to be executed directly.\n\
         Please execute the program that consumes these plugins, which will\n\
         load any plugins automatically (here: terraform, with this provider\n\
         installed or named in dev_overrides). Use --debug to run it on its own\n\
         for a debugger."
    )]
    NotLaunchedByTerraform,
    #[error(
        "Terraform offered plugin protocol versions {offered:?}, but this provider speaks only version {APP_PROTOCOL_VERSION}; use Terraform 1.0 or later"
    )]
    NoCommonProtocol { offered: String },
}

/// Checks the magic cookie and picks protocol 6 from PLUGIN_PROTOCOL_VERSIONS.
pub fn negotiate(cookie: Option<&str>, offered_versions: Option<&str>) -> Result<u32, HandshakeError> {
    if cookie != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotLaunchedByTerraform);
    }
    match offered_versions {
        // An old client that does not negotiate: it expects our default.
        None | Some("") => Ok(APP_PROTOCOL_VERSION),
        Some(list) => {
            let speaks_ours = list.split(',').any(|v| v.trim().parse::<u32>() == Ok(APP_PROTOCOL_VERSION));
            if speaks_ours {
                Ok(APP_PROTOCOL_VERSION)
            } else {
                Err(HandshakeError::NoCommonProtocol { offered: list.to_string() })
            }
        }
    }
}

/// The line `CORE|APP|NETWORK|ADDRESS|grpc|CERT`, CERT being the server
/// certificate's DER in standard base64 without padding (empty for plaintext).
pub fn handshake_line(network: &str, address: &str, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{network}|{address}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_required() {
        assert_eq!(negotiate(None, Some("6")), Err(HandshakeError::NotLaunchedByTerraform));
        assert_eq!(negotiate(Some("wrong"), Some("6")), Err(HandshakeError::NotLaunchedByTerraform));
        assert!(
            HandshakeError::NotLaunchedByTerraform.to_string().contains("not meant to be executed directly")
        );
    }

    #[test]
    fn picks_six_from_the_offer() {
        assert_eq!(negotiate(Some(MAGIC_COOKIE_VALUE), Some("5,6")), Ok(6));
        assert_eq!(negotiate(Some(MAGIC_COOKIE_VALUE), None), Ok(6));
        assert!(matches!(
            negotiate(Some(MAGIC_COOKIE_VALUE), Some("4,5")),
            Err(HandshakeError::NoCommonProtocol { .. })
        ));
    }

    #[test]
    fn line_format() {
        assert_eq!(handshake_line("unix", "/tmp/p/plugin.sock", None), "1|6|unix|/tmp/p/plugin.sock|grpc|");
        // 3 bytes -> 4 chars; 4 bytes -> 6 chars without "==" padding.
        assert_eq!(
            handshake_line("tcp", "127.0.0.1:1234", Some(&[0xff, 0xee, 0xdd, 0xcc])),
            "1|6|tcp|127.0.0.1:1234|grpc|/+7dzA"
        );
    }
}
