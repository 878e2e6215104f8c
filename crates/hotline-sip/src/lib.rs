//! hotline-sip
