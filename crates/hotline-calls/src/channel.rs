//! [`SipChannel`]: one answered SIP dialog plus one [`MediaLeg`], as the IVR's [`Channel`].
//!
//! The channel's operations run on the media leg; a small signalling task per call (spawned by
//! [`SipChannel::new`]) handles what the SIP side says meanwhile: SIP INFO keys go into the leg
//! ([`MediaLeg::inject_dtmf`]), a re-INVITE (hold, unhold, refresh) is answered with
//! [`MediaLeg::local_sdp_answer`], the ACK of an offerless INVITE carries the peer's answer,
//! and a BYE (or no RTP for the leg's inactivity timeout) ends the call.
//!
//! Ending a call cancels one token, `gone`, which is also the leg's shutdown token: the leg
//! closes, so a playback ends `Stopped`, a collection ends `Hangup` and a recording is
//! finalised and returned; every later operation returns [`ChannelError::Hangup`].
//!
//! Voicemail safety: [`SipChannel::record`] writes a marker `<file>.pending` beside the WAV
//! before recording (call id and caller id in it). It is removed when the message is
//! discarded or registered with the core ([`crate::voicemail::MarkingBackend`]); a marker left
//! behind by a crash is what the start-up sweep ([`crate::voicemail::sweep`]) acts on.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hotline_ivr::{
    Channel, ChannelError, CollectEnd, CollectSpec, Collected, PlayOutcome, RecordEnd,
    RecordOutcome, RecordSpec,
};
use hotline_media::leg_core::PlayOutcome as MediaPlay;
use hotline_media::prompt::PromptCache;
use hotline_media::recorder::{self, SilenceSpec};
use hotline_media::{MediaError, MediaLeg, collector};
use hotline_sip::driver::SipHandle;
use hotline_sip::endpoint::{CallId, Event};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::voicemail::PendingMarker;

/// Mean |sample| under which a 20 ms frame counts as silence for a voicemail's silence end.
pub const SILENCE_THRESHOLD: u16 = 300;

/// How long an offerless INVITE's 200 OK may wait for the ACK carrying the caller's answer.
const ACK_WAIT: Duration = Duration::from_secs(32);

/// The most prompt ids kept in [`SipChannel::played`] (a log for tests and call summaries).
const PLAYED_LOG_MAX: usize = 256;

/// The caller's number from a From URI: the user part when it is a number (digits, an optional
/// leading `+` dropped), else empty (withheld, or a name such as `sipp`).
pub fn caller_number(from_uri: &str) -> String {
    let rest = from_uri
        .strip_prefix("sips:")
        .or_else(|| from_uri.strip_prefix("sip:"))
        .or_else(|| from_uri.strip_prefix("tel:"))
        .unwrap_or(from_uri);
    let user = rest.split(['@', ';', '?', '>']).next().unwrap_or("");
    let user = user.split(':').next().unwrap_or(""); // user:password
    let user = user.strip_prefix('+').unwrap_or(user);
    if !user.is_empty() && user.len() <= 32 && user.chars().all(|c| c.is_ascii_digit()) {
        user.to_owned()
    } else {
        String::new()
    }
}

/// An incoming call as the router hands it over.
#[derive(Debug)]
pub struct Incoming {
    /// The call handle (its Call-ID).
    pub call: CallId,
    /// The From URI.
    pub from: String,
    /// The SDP offer, if the INVITE had one.
    pub offer: Option<Bytes>,
    /// The call's SIP events.
    pub events: mpsc::UnboundedReceiver<Event>,
}

/// State shared between the channel and its signalling task.
#[derive(Debug, Default)]
struct Shared {
    /// The dialog is over on the SIP side (BYE received, or we hung up): no BYE to send.
    sip_done: AtomicBool,
}

/// One live call as the IVR flows see it. Built by the call server for every INVITE.
pub struct SipChannel {
    call: CallId,
    caller_id: String,
    sip: SipHandle,
    leg: Option<Arc<MediaLeg>>,
    prompts: Arc<PromptCache>,
    offer: Option<Bytes>,
    answered: bool,
    gone: CancellationToken,
    acked: watch::Receiver<bool>,
    shared: Arc<Shared>,
    signalling: Option<JoinHandle<()>>,
    played: Vec<String>,
    setup: Option<crate::metrics::SetupTimer>,
}

impl std::fmt::Debug for SipChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipChannel")
            .field("call", &self.call)
            .field("caller_id", &self.caller_id)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl SipChannel {
    /// Observes the call's setup time (INVITE received → 200 OK sent) when it is answered.
    pub fn with_setup_timer(mut self, timer: crate::metrics::SetupTimer) -> SipChannel {
        self.setup = Some(timer);
        self
    }

    /// A channel for the incoming call `inv` over `leg`, which must have been bound with
    /// `gone` (or a child of it) as its shutdown token. The signalling task that reads the
    /// call's SIP events is spawned here.
    pub fn new(
        inv: Incoming,
        sip: SipHandle,
        leg: MediaLeg,
        prompts: Arc<PromptCache>,
        gone: CancellationToken,
    ) -> SipChannel {
        let Incoming {
            call,
            from,
            offer,
            events,
        } = inv;
        let caller_id = caller_number(&from);
        Self::build(
            call, caller_id, offer, false, events, sip, leg, prompts, gone,
        )
    }

    /// A channel for an outgoing call we placed that the callee answered (its SDP already
    /// applied to `leg`): [`Channel::answer`] is a no-op, `caller_id` is the number called
    /// (the customer of an automated survey call). `events` are the call's SIP events after
    /// the answer.
    pub fn outgoing(
        call: CallId,
        number: &str,
        events: mpsc::UnboundedReceiver<Event>,
        sip: SipHandle,
        leg: MediaLeg,
        prompts: Arc<PromptCache>,
        gone: CancellationToken,
    ) -> SipChannel {
        Self::build(
            call,
            number.to_owned(),
            None,
            true,
            events,
            sip,
            leg,
            prompts,
            gone,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        call: CallId,
        caller_id: String,
        offer: Option<Bytes>,
        answered: bool,
        events: mpsc::UnboundedReceiver<Event>,
        sip: SipHandle,
        leg: MediaLeg,
        prompts: Arc<PromptCache>,
        gone: CancellationToken,
    ) -> SipChannel {
        let leg = Arc::new(leg);
        let (acked_tx, acked) = watch::channel(false);
        let shared = Arc::new(Shared::default());
        let signalling = tokio::spawn(
            signalling(
                call.clone(),
                sip.clone(),
                leg.clone(),
                events,
                gone.clone(),
                acked_tx,
                shared.clone(),
            )
            .in_current_span(),
        );
        SipChannel {
            call,
            caller_id,
            sip,
            leg: Some(leg),
            prompts,
            offer,
            answered,
            gone,
            acked,
            shared,
            signalling: Some(signalling),
            played: Vec::new(),
            setup: None,
        }
    }

    /// The SIP call handle.
    pub fn call(&self) -> &CallId {
        &self.call
    }

    /// The media leg (for the agent queue: hold music, bridging).
    pub fn leg(&self) -> Option<&Arc<MediaLeg>> {
        self.leg.as_ref()
    }

    /// The SIP handle (for the agent queue: ringing agents).
    pub fn sip(&self) -> &SipHandle {
        &self.sip
    }

    /// Cancelled when the call is over (BYE, no RTP, our hang-up, server shutdown).
    pub fn gone(&self) -> &CancellationToken {
        &self.gone
    }

    /// Whether the call is over.
    pub fn is_gone(&self) -> bool {
        self.gone.is_cancelled()
    }

    /// Prompt ids played so far (at most the first 256).
    pub fn played(&self) -> &[String] {
        &self.played
    }

    /// Starts playing prompts without waiting (hold announcements while the caller waits
    /// for an agent); a later playback or [`MediaLeg::stop_play`] replaces it.
    pub fn play_in_background(&mut self, prompts: &[&str]) -> Result<(), ChannelError> {
        let leg = self.live_leg()?.clone();
        let mut loaded = Vec::with_capacity(prompts.len());
        for id in prompts {
            loaded.push(self.prompts.get(id).map_err(|e| ChannelError::Prompt {
                id: (*id).to_owned(),
                reason: e.to_string(),
            })?);
            if self.played.len() < PLAYED_LOG_MAX {
                self.played.push((*id).to_owned());
            }
        }
        tokio::spawn(async move {
            let _ = leg.play(&loaded, false).await;
        });
        Ok(())
    }

    fn live_leg(&self) -> Result<&Arc<MediaLeg>, ChannelError> {
        if self.gone.is_cancelled() {
            return Err(ChannelError::Hangup);
        }
        self.leg.as_ref().ok_or(ChannelError::Hangup)
    }

    /// A media error as the flows see it: anything after the call ended is a hang-up.
    fn media_error(&self, e: MediaError) -> ChannelError {
        if self.gone.is_cancelled() || matches!(e, MediaError::Closed) {
            ChannelError::Hangup
        } else {
            ChannelError::Failed(e.to_string())
        }
    }

    /// Ends the call (BYE when the dialog is still up), closes the leg and waits for its task
    /// (a recording in progress is finalised). Idempotent.
    pub async fn close(&mut self) {
        let _ = self.hangup().await;
        if let Some(t) = self.signalling.take() {
            let _ = t.await;
        }
        if let Some(leg) = self.leg.take() {
            match Arc::try_unwrap(leg) {
                Ok(leg) => leg.close().await,
                Err(leg) => drop(leg), // still shared (an agent bridge): it closes when dropped
            }
        }
    }
}

impl Drop for SipChannel {
    fn drop(&mut self) {
        // A dropped channel (task aborted) still frees its leg and finalises a recording.
        self.gone.cancel();
    }
}

/// Reads the call's SIP events until the call is over.
async fn signalling(
    call: CallId,
    sip: SipHandle,
    leg: Arc<MediaLeg>,
    mut events: mpsc::UnboundedReceiver<Event>,
    gone: CancellationToken,
    acked: watch::Sender<bool>,
    shared: Arc<Shared>,
) {
    loop {
        tokio::select! {
            () = gone.cancelled() => break,
            () = leg.inactive() => {
                if !gone.is_cancelled() {
                    tracing::warn!("no RTP from the caller for the inactivity timeout; hanging up");
                    if !shared.sip_done.swap(true, Ordering::SeqCst) {
                        let _ = sip.hangup(&call).await;
                    }
                    gone.cancel();
                }
                break;
            }
            ev = events.recv() => {
                let Some(ev) = ev else {
                    // The router is gone (server stopping).
                    gone.cancel();
                    break;
                };
                match ev {
                    Event::Dtmf { digit, .. } => {
                        tracing::debug!(%digit, "SIP INFO key");
                        let _ = leg.inject_dtmf(digit);
                    }
                    Event::ReInvite { offer, .. } => {
                        let sdp = match offer {
                            Some(offer) => match leg.local_sdp_answer(&offer) {
                                Ok(answer) => answer,
                                Err(e) => {
                                    // No reject for a re-INVITE here: answer with what we have
                                    // (our current media), the dialog stays as it was.
                                    tracing::warn!(error = %e, "re-INVITE offer refused; keeping the current media");
                                    leg.offer()
                                }
                            },
                            // Offerless re-INVITE: our offer now, the answer comes in the ACK.
                            None => leg.offer(),
                        };
                        tracing::debug!("answering re-INVITE");
                        if let Err(e) = sip.answer_reinvite(&call, Bytes::from(sdp)).await {
                            tracing::warn!(error = %e, "cannot answer re-INVITE");
                        }
                    }
                    Event::CallAcked { answer, .. } => {
                        if let Some(answer) = answer
                            && let Err(e) = leg.accept_answer(&answer)
                        {
                            tracing::warn!(error = %e, "answer in ACK refused");
                        }
                        let _ = acked.send(true);
                    }
                    Event::CallEnded { reason, .. } => {
                        tracing::info!(?reason, "call ended");
                        shared.sip_done.store(true, Ordering::SeqCst);
                        gone.cancel();
                        break;
                    }
                    other => tracing::debug!(event = ?other, "SIP event ignored"),
                }
            }
        }
    }
}

#[async_trait]
impl Channel for SipChannel {
    fn call_id(&self) -> &str {
        &self.call.0
    }

    fn caller_id(&self) -> &str {
        &self.caller_id
    }

    async fn answer(&mut self) -> Result<(), ChannelError> {
        if self.answered {
            return Ok(());
        }
        let leg = self.live_leg()?.clone();
        let sdp = match &self.offer {
            Some(offer) => match leg.local_sdp_answer(offer) {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::warn!(error = %e, "offer refused: 488");
                    self.shared.sip_done.store(true, Ordering::SeqCst);
                    let _ = self.sip.reject(&self.call, 488).await;
                    self.gone.cancel();
                    return Err(ChannelError::Failed(format!("SDP offer refused: {e}")));
                }
            },
            None => leg.offer(),
        };
        if let Err(e) = self.sip.answer(&self.call, Bytes::from(sdp)).await {
            // The caller cancelled (or the dialog died) before our answer.
            tracing::info!(error = %e, "cannot answer");
            self.shared.sip_done.store(true, Ordering::SeqCst);
            self.gone.cancel();
            return Err(ChannelError::Hangup);
        }
        self.answered = true;
        if let Some(t) = self.setup.take() {
            t.answered();
        }
        if self.offer.is_none() {
            // The media is negotiated only when the ACK brings the caller's answer.
            let mut acked = self.acked.clone();
            tokio::select! {
                r = tokio::time::timeout(ACK_WAIT, acked.wait_for(|a| *a)) => {
                    if !matches!(r, Ok(Ok(_))) {
                        return Err(ChannelError::Hangup);
                    }
                }
                () = self.gone.cancelled() => return Err(ChannelError::Hangup),
            }
        }
        Ok(())
    }

    async fn play(
        &mut self,
        prompts: &[&str],
        barge_in: bool,
    ) -> Result<PlayOutcome, ChannelError> {
        let leg = self.live_leg()?.clone();
        let mut loaded = Vec::with_capacity(prompts.len());
        for id in prompts {
            let p = self.prompts.get(id).map_err(|e| ChannelError::Prompt {
                id: (*id).to_owned(),
                reason: e.to_string(),
            })?;
            loaded.push(p);
        }
        for id in prompts {
            if self.played.len() < PLAYED_LOG_MAX {
                self.played.push((*id).to_owned());
            }
        }
        match leg.play(&loaded, barge_in).await {
            Ok(MediaPlay::Completed) => Ok(PlayOutcome::Completed),
            Ok(MediaPlay::Interrupted(k)) => Ok(PlayOutcome::Interrupted(k)),
            Ok(MediaPlay::Stopped) => Err(ChannelError::Hangup),
            Err(e) => Err(self.media_error(e)),
        }
    }

    async fn collect_digits(&mut self, spec: &CollectSpec) -> Result<Collected, ChannelError> {
        let leg = self.live_leg()?.clone();
        let got = leg
            .collect_digits(collector::CollectSpec {
                max_digits: spec.max_digits,
                first_digit_timeout: spec.first_digit_timeout,
                inter_digit_timeout: spec.inter_digit_timeout,
                terminators: spec.terminators.clone(),
            })
            .await
            .map_err(|e| self.media_error(e))?;
        let end = match got.end {
            collector::CollectEnd::MaxDigits => CollectEnd::MaxDigits,
            collector::CollectEnd::Terminator(k) => CollectEnd::Terminator(k),
            collector::CollectEnd::Timeout => CollectEnd::Timeout,
            collector::CollectEnd::Hangup => return Err(ChannelError::Hangup),
        };
        Ok(Collected {
            digits: got.digits,
            end,
        })
    }

    async fn record(
        &mut self,
        path: &Path,
        spec: &RecordSpec,
    ) -> Result<RecordOutcome, ChannelError> {
        let leg = self.live_leg()?.clone();
        let marker = PendingMarker::for_wav(path);
        marker
            .write(&self.call.0, &self.caller_id, &spec.number_entered)
            .map_err(|e| ChannelError::Record {
                path: path.to_owned(),
                reason: format!("writing {}: {e}", marker.path().display()),
            })?;
        let media_spec = recorder::RecordSpec {
            max_duration: spec.max_duration,
            silence: spec.silence_end.map(|duration| SilenceSpec {
                duration,
                threshold: SILENCE_THRESHOLD,
            }),
            min_duration: spec.min_duration,
            end_keys: spec.end_keys.clone(),
        };
        let result = leg.record(path, media_spec).await;
        let end = |e: recorder::RecordEnd| match e {
            recorder::RecordEnd::Key(k) => RecordEnd::Key(k),
            recorder::RecordEnd::Silence => RecordEnd::Silence,
            recorder::RecordEnd::MaxDuration => RecordEnd::MaxDuration,
            recorder::RecordEnd::Stopped => RecordEnd::Hangup,
        };
        match result {
            Ok(recorder::RecordOutcome::Saved {
                path,
                duration,
                end: e,
            }) => Ok(RecordOutcome::Saved {
                path,
                duration,
                end: end(e),
            }),
            Ok(recorder::RecordOutcome::Discarded { duration, end: e }) => {
                marker.remove();
                Ok(RecordOutcome::Discarded {
                    duration,
                    end: end(e),
                })
            }
            Err(MediaError::Wav(e)) => {
                marker.remove();
                Err(ChannelError::Record {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
            }
            // The leg closed under the recording: the file (if any) and the marker stay for
            // the sweep.
            Err(e) => Err(self.media_error(e)),
        }
    }

    async fn hangup(&mut self) -> Result<(), ChannelError> {
        if !self.shared.sip_done.swap(true, Ordering::SeqCst)
            && let Err(e) = self.sip.hangup(&self.call).await
        {
            tracing::debug!(error = %e, "hang-up");
        }
        self.gone.cancel();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_numbers_from_uris() {
        assert_eq!(caller_number("sip:13800138000@10.0.0.1"), "13800138000");
        assert_eq!(
            caller_number("sip:+8613800138000@x;user=phone"),
            "8613800138000"
        );
        assert_eq!(caller_number("tel:01066554433"), "01066554433");
        assert_eq!(caller_number("sip:sipp@127.0.0.1:5061"), "");
        assert_eq!(caller_number("sip:anonymous@anonymous.invalid"), "");
        assert_eq!(caller_number(""), "");
        assert_eq!(caller_number("sip:123:pw@host"), "123");
        assert_eq!(caller_number(&format!("sip:{}@h", "1".repeat(40))), "");
    }
}
