//! hotline-store
