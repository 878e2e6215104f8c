//! A scripted caller: our own SIP UAC (`hotline-sip`) plus a media leg that sends RFC 4733
//! keys and, if asked, a tone as "speech". Used by `hotline demo` and by tests that need a
//! caller without sipp.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hotline_calls::dialer::DialError> {
//! use hotline_calls::dialer::Caller;
//! let mut caller = Caller::dial("127.0.0.1:5060".parse().unwrap(), "13800138000").await?;
//! caller.press("1").await?;                // report a fault
//! caller.press("01066554433#").await?;     // the faulty number
//! caller.wait_ended(std::time::Duration::from_secs(60)).await?; // the IVR's BYE
//! # Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use hotline_media::prompt::Prompt;
use hotline_media::{MediaConfig, MediaError, MediaLeg};
use hotline_sip::driver::{Driver, DriverError, SipHandle};
use hotline_sip::endpoint::{CallId, EndReason, EndpointConfig, Event, OutgoingCall, Transport};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Why a scripted call failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// SIP sockets or driver.
    #[error("SIP: {0}")]
    Sip(#[from] DriverError),
    /// Media leg.
    #[error("media: {0}")]
    Media(#[from] MediaError),
    /// The hotline answered with an error status.
    #[error("the call was refused with status {0}")]
    Refused(u16),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    /// The call ended before this step.
    #[error("the call ended ({0:?})")]
    Ended(Option<EndReason>),
    /// Waited too long for the hotline to hang up.
    #[error("the hotline did not hang up within {0:?}")]
    StillUp(Duration),
}

/// One outgoing call to the hotline.
pub struct Caller {
    sip: SipHandle,
    call: CallId,
    leg: MediaLeg,
    events: mpsc::UnboundedReceiver<Event>,
    stop: DropGuard,
    driver: JoinHandle<Result<(), DriverError>>,
    ended: Option<EndReason>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

/// How long [`Caller::dial`] waits for the hotline to answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

impl Caller {
    /// Calls `hotline` (its SIP address) from the number `from_number`; returns once the call
    /// is answered and media negotiated.
    pub async fn dial(hotline: SocketAddr, from_number: &str) -> Result<Caller, DialError> {
        let local_ip = if hotline.ip().is_loopback() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let (driver, sip, mut events) = Driver::bind(
            SocketAddr::new(local_ip, 0),
            EndpointConfig::new(SocketAddr::new(local_ip, 0)),
        )
        .await?;
        let local = driver.local_addr();
        let stop = CancellationToken::new();
        let s = stop.clone();
        let driver = tokio::spawn(driver.run(async move { s.cancelled().await }));
        let mut media = MediaConfig::new(local_ip);
        media.port_range = hotline_media::port::PortRange {
            first: 40000,
            last: 49998,
        };
        // One config per dialled call: a pacer here would be a (real-time) thread per call
        // of a load generator. A caller's keys and tone go out when its task wakes.
        media.pacer = None;
        media.frame_grid = None;
        if local_ip.is_unspecified() {
            media.advertised_ip = Some(local.ip());
        }
        let leg = MediaLeg::bind(&media).await?;
        let uri = format!("sip:112@{hotline}");
        let call = sip
            .invite(OutgoingCall {
                target: uri.clone(),
                dest: hotline,
                transport: Transport::Udp,
                from: format!("sip:{from_number}@{local}"),
                to: uri,
                sdp: Bytes::from(leg.offer()),
                ring_timeout: Some(ANSWER_TIMEOUT),
                auth: None,
            })
            .await?;
        let mut caller = Caller {
            sip,
            call,
            leg,
            events: mpsc::unbounded_channel().1,
            stop: stop.drop_guard(),
            driver,
            ended: None,
        };
        let answered = tokio::time::timeout(ANSWER_TIMEOUT + Duration::from_secs(2), async {
            while let Some(ev) = events.recv().await {
                match ev {
                    Event::Answered { call, sdp } if call == caller.call => {
                        return match sdp {
                            Some(sdp) => caller.leg.accept_answer(&sdp).map_err(DialError::from),
                            None => Ok(()),
                        };
                    }
                    Event::Failed { call, code } if call == caller.call => {
                        return Err(DialError::Refused(code));
                    }
                    Event::TimedOut { call } | Event::Cancelled { call } if call == caller.call => {
                        return Err(DialError::NoAnswer(ANSWER_TIMEOUT));
                    }
                    _ => {}
                }
            }
            Err(DialError::Ended(None))
        })
        .await
        .unwrap_or(Err(DialError::NoAnswer(ANSWER_TIMEOUT)));
        caller.events = events;
        answered?;
        Ok(caller)
    }

    /// The call's SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call.0
    }

    /// Reads SIP events already received; notes the end of the call.
    fn drain(&mut self) {
        while let Ok(ev) = self.events.try_recv() {
            if let Event::CallEnded { call, reason } = ev
                && call == self.call
            {
                self.ended = Some(reason);
            }
        }
    }

    /// Whether the hotline has hung up.
    pub fn is_ended(&mut self) -> bool {
        self.drain();
        self.ended.is_some()
    }

    /// Presses keys (RFC 4733 events: 100 ms of tone, three end packets, a 60 ms gap) and
    /// returns once they have been sent.
    pub async fn press(&mut self, keys: &str) -> Result<(), DialError> {
        if self.is_ended() {
            return Err(DialError::Ended(self.ended.clone()));
        }
        self.leg.send_dtmf(keys)?;
        let n = keys.chars().count() as u64;
        // Per key: 5 tone packets + 3 end packets at 20 ms, then 20 ms + the gap.
        tokio::time::sleep(Duration::from_millis(240 * n + 40)).await;
        Ok(())
    }

    /// "Speaks": sends a 440 Hz tone for `duration` (a voicemail's content).
    pub async fn speak(&mut self, duration: Duration) -> Result<(), DialError> {
        let n = (duration.as_millis() * 8) as usize;
        let samples: Vec<i16> = (0..n)
            .map(|i| {
                let t = i as f64 / 8000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect();
        let tone = Prompt::from_samples("tone", samples);
        self.leg.play(&[tone], false).await?;
        Ok(())
    }

    /// Waits until the hotline hangs up (its BYE).
    pub async fn wait_ended(&mut self, timeout: Duration) -> Result<EndReason, DialError> {
        self.drain();
        if let Some(r) = &self.ended {
            return Ok(r.clone());
        }
        let call = self.call.clone();
        let r = tokio::time::timeout(timeout, async {
            while let Some(ev) = self.events.recv().await {
                if let Event::CallEnded { call: c, reason } = ev
                    && c == call
                {
                    return Some(reason);
                }
            }
            None
        })
        .await
        .map_err(|_| DialError::StillUp(timeout))?;
        self.ended = r.clone();
        r.ok_or(DialError::Ended(None))
    }

    /// Hangs up from our side (BYE) unless the hotline already did, and waits for the end.
    pub async fn hang_up(&mut self) -> Result<(), DialError> {
        if !self.is_ended() {
            self.sip.hangup(&self.call).await?;
            let _ = self.wait_ended(Duration::from_secs(5)).await;
        }
        Ok(())
    }

    /// Closes the media leg and the SIP driver.
    pub async fn close(mut self) {
        let _ = self.hang_up().await;
        let Caller {
            leg, stop, driver, ..
        } = self;
        drop(stop);
        let _ = driver.await;
        leg.close().await;
    }
}
