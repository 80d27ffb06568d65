//! Azure Blob Storage transfers.
