//! Entra ID credentials and the default chain.
