//! AutoMTLS as go-plugin does it: the client (Terraform) sends its
//! certificate in PLUGIN_CLIENT_CERT; we make a self-signed server
//! certificate for `localhost`, send it in the handshake line, and accept
//! exactly the client's certificate. go-plugin's client certificates are
//! ECDSA P-521 and marked CA:true, which ordinary WebPKI end-entity
//! verification rejects, so the client is verified by exact DER match plus a
//! real signature check with aws-lc (which supports P-521).
//!
//! Everything else (our key, the handshake's key exchange) uses ring: aws-lc
//! seeds its random generator on first use, which costs tens of
//! milliseconds of startup, while signature verification needs no
//! randomness.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme,
};

/// A freshly made server identity.
pub struct ServerIdentity {
    pub cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

pub fn generate_server_identity() -> Result<ServerIdentity, rcgen::Error> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "HashiCorp");
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    // The certificate is its own trust root on the client side, like
    // go-plugin's: a CA that may sign and that serves TLS.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    // rcgen's default validity (1975..4096) suits a certificate that lives
    // as long as this process and is trusted by exact match only.
    let cert = params.self_signed(&key)?;
    Ok(ServerIdentity {
        cert_der: cert.der().clone(),
        key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate: {0}")]
    BadClientCert(String),
    #[error("cannot make the server certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Parses the PEM certificate Terraform passes in PLUGIN_CLIENT_CERT.
pub fn parse_client_cert(pem: &str) -> Result<CertificateDer<'static>, TlsSetupError> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsSetupError::BadClientCert(e.to_string()))
}

/// Server TLS config: our identity, exactly this client, ALPN h2 (gRPC).
pub fn server_config(
    identity: &ServerIdentity,
    client_cert: CertificateDer<'static>,
) -> Result<ServerConfig, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(ExactClientCert {
        expected: client_cert,
        algorithms: rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![identity.cert_der.clone()],
            PrivateKeyDer::Pkcs8(identity.key_der.clone_key()),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Accepts one client certificate, byte for byte, and checks the client's
/// handshake signature with it.
#[derive(Debug)]
struct ExactClientCert {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ExactClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_identity_is_for_localhost() {
        let id = generate_server_identity().unwrap();
        assert!(id.cert_der.len() > 200);
        // "localhost" appears in the SAN.
        assert!(id.cert_der.windows(9).any(|w| w == b"localhost"));
    }

    #[test]
    fn p521_client_signatures_are_verifiable() {
        let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        assert!(algs.supported_schemes().contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn garbage_client_cert_is_a_clear_error() {
        let err = parse_client_cert("not a pem").unwrap_err();
        assert!(err.to_string().contains("PLUGIN_CLIENT_CERT"));
    }
}
