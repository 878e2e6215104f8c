//! hotline-domain
