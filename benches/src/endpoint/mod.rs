//! The blob endpoints the contenders run against: Azurite and an in-memory server.

pub mod azurite;
pub mod memory;

use serde::{Deserialize, Serialize};

/// The account name both endpoints serve in the URL path, as Azurite does.
pub const ACCOUNT: &str = "devstoreaccount1";

/// Azurite's well-known development account key, used to sign the account SAS.
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The kind of endpoint a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndpointKind {
    /// Azurite 3.35 (Node.js, one thread).
    Azurite,
    /// The harness's own multi-threaded in-memory server.
    Memory,
}

impl EndpointKind {
    /// Returns the name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Azurite => "azurite",
            Self::Memory => "memory",
        }
    }

    /// Parses a name from the command line.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "azurite" => Some(Self::Azurite),
            "memory" => Some(Self::Memory),
            _ => None,
        }
    }
}

/// A started endpoint; dropping it stops the server.
pub enum Running {
    /// A running Azurite process.
    Azurite(azurite::AzuriteProcess),
    /// A running in-memory server.
    Memory(memory::MemoryServer),
}

impl Running {
    /// Returns the account URL, such as `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn account_url(&self) -> String {
        let port = match self {
            Self::Azurite(process) => process.port(),
            Self::Memory(server) => server.port(),
        };
        format!("http://127.0.0.1:{port}/{ACCOUNT}")
    }
}
