#!/usr/bin/env bash
# Prints the path of this host's CA bundle (PEM), which jobs/build-images.sh
# copies into the FROM-scratch images for TLS to AWS. Each distribution
# keeps it elsewhere, so: SSL_CERT_FILE when set (then it must be good: a
# wrong explicit choice is an error, not a silent fallback), else the first
# of the standard locations below that holds a certificate. Arguments
# replace that list (the tests use them).
#
# Exits 1 with the places it looked when none holds one.
set -euo pipefail

if [ "$#" -gt 0 ]; then
  candidates=("$@")
else
  candidates=(
    /etc/ssl/certs/ca-certificates.crt                  # Debian, Ubuntu, Alpine, Arch, Gentoo
    /etc/pki/tls/certs/ca-bundle.crt                    # Fedora, RHEL, CentOS, Amazon Linux
    /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem   # RHEL 7+ (what the line above links to)
    /etc/ssl/ca-bundle.pem                              # openSUSE, SLES
    /etc/ssl/cert.pem                                   # macOS, Alpine, the BSDs
  )
fi

# A readable, non-empty file with at least one PEM certificate: an empty
# file (a half-installed ca-certificates) would give images that fail
# every TLS handshake at run time instead of here.
holds_certificates() {
  [ -f "$1" ] && [ -r "$1" ] && [ -s "$1" ] && grep -q -- '-----BEGIN CERTIFICATE-----' "$1"
}

if [ -n "${SSL_CERT_FILE:-}" ]; then
  if holds_certificates "$SSL_CERT_FILE"; then
    printf '%s\n' "$SSL_CERT_FILE"; exit 0
  fi
  echo "SSL_CERT_FILE=$SSL_CERT_FILE is not a readable PEM file with certificates; fix or unset it" >&2
  exit 1
fi
for c in "${candidates[@]}"; do
  if holds_certificates "$c"; then
    printf '%s\n' "$c"; exit 0
  fi
done
{
  echo "no CA bundle found; looked in:"
  printf '  %s\n' "${candidates[@]}"
  echo "install your distribution's ca-certificates package, or set SSL_CERT_FILE to a PEM bundle"
} >&2
exit 1
