//! The crate's error type at the driver boundary ([`crate::MediaLeg`]); the sans-I/O modules
//! have their own ([`crate::sdp::SdpError`], [`crate::prompt::PromptError`], [`crate::wav::WavError`]).

use std::io;

use crate::port::PortRange;
use crate::prompt::PromptError;
use crate::sdp::SdpError;
use crate::wav::WavError;

/// Errors of [`crate::MediaLeg`] operations.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// No free even port in the range.
    #[error("no free RTP port in {}-{}: {source}", range.first, range.last)]
    NoPort {
        /// The range tried.
        range: PortRange,
        /// Last bind error.
        #[source]
        source: io::Error,
    },
    /// Socket error.
    #[error("RTP socket: {0}")]
    Io(#[from] io::Error),
    /// Offer/answer failed.
    #[error(transparent)]
    Sdp(#[from] SdpError),
    /// A prompt could not be loaded.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// A recording could not be written.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// The leg has closed (hangup, shutdown or inactivity).
    #[error("media leg closed")]
    Closed,
    /// No SDP has been negotiated yet.
    #[error("no media negotiated yet")]
    NotNegotiated,
}
