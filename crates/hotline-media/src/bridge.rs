//! Bridging two legs (caller ↔ agent): each leg relays its inbound RTP to the other, which
//! rewrites SSRC/sequence/timestamps into its own stream and transcodes PCMU↔PCMA when the
//! legs differ ([`crate::leg_core::LegCore::handle_relay`]); DTMF passes through; both
//! directions can be mixed into one WAV ([`crate::mixer`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::error::MediaError;
use crate::leg::{Command, MediaLeg};
use crate::mixer::{Mixer, Side};
use crate::wav::WavFileSink;

/// Two legs relaying to each other. Dropping it does not unbridge; call [`Bridge::stop`].
#[derive(Debug)]
pub struct Bridge {
    a: mpsc::UnboundedSender<Command>,
    b: mpsc::UnboundedSender<Command>,
    mixer: Option<(Arc<Mutex<Mixer>>, PathBuf)>,
}

/// Bridges two legs (caller `a` ↔ agent `b`); with `record`, both directions are mixed into one
/// WAV file.
/// Returns once both legs relay.
pub async fn bridge(
    a: &MediaLeg,
    b: &MediaLeg,
    record: Option<&Path>,
) -> Result<Bridge, MediaError> {
    let mixer = match record {
        Some(p) => Some((
            Arc::new(Mutex::new(Mixer::new(Box::new(WavFileSink::create(p)?)))),
            p.to_owned(),
        )),
        None => None,
    };
    let m = |side| mixer.as_ref().map(|(m, _)| (m.clone(), side));
    let (done_a, wait_a) = oneshot::channel();
    let (done_b, wait_b) = oneshot::channel();
    a.send(Command::Bridge {
        peer: b.relay_tx.clone(),
        mixer: m(Side::A),
        done: done_a,
    })?;
    b.send(Command::Bridge {
        peer: a.relay_tx.clone(),
        mixer: m(Side::B),
        done: done_b,
    })?;
    let (ra, rb) = tokio::join!(wait_a, wait_b);
    ra.and(rb).map_err(|_| MediaError::Closed)?;
    Ok(Bridge {
        a: a.commands.clone(),
        b: b.commands.clone(),
        mixer,
    })
}

impl Bridge {
    /// Ends the bridge; returns the recording's path and length if one was made.
    pub fn stop(self) -> Result<Option<(PathBuf, Duration)>, MediaError> {
        let _ = self.a.send(Command::Unbridge);
        let _ = self.b.send(Command::Unbridge);
        match self.mixer {
            Some((m, path)) => {
                let samples = m.lock().unwrap_or_else(|e| e.into_inner()).finish()?;
                Ok((samples > 0).then(|| (path, Duration::from_micros(samples * 125))))
            }
            None => Ok(None),
        }
    }
}
