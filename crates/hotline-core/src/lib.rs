//! hotline-core
