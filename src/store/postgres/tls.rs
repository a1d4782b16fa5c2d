//! TLS for connections to PostgreSQL (a hosted server usually asks for it): rustls, trusting
//! what the operating system trusts. The URL's `sslmode` decides: `disable` never encrypts,
//! `prefer` (the default) encrypts when the server offers it, `require` refuses a server that
//! does not.

use crate::store::{Result, StoreError};
use rustls_platform_verifier::BuilderVerifierExt;
use std::sync::{Arc, OnceLock};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The connector every TLS connection of this process uses (built once: reading the system's
/// trust store is not free).
pub(crate) fn connector() -> Result<MakeRustlsConnect> {
    static CONNECTOR: OnceLock<std::result::Result<MakeRustlsConnect, String>> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .and_then(BuilderVerifierExt::with_platform_verifier)
                .map(|b| MakeRustlsConnect::new(b.with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| StoreError::Postgres(format!("cannot set up TLS for PostgreSQL: {e}")))
}
