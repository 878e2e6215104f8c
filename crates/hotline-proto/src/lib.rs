//! hotline-proto
