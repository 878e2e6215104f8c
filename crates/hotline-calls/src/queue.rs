//! What happens to a caller the IVR sends to an agent ([`hotline_ivr::FlowOutcome::ToAgent`]):
//! the [`AgentQueue`] seam. The call server hands it the live [`SipChannel`] and a
//! [`CallContext`] (the core, the IVR settings, SIP for ringing agents, media settings for the
//! agent's leg) and hangs up when it returns.
//!
//! Implementations: [`crate::GrpcQueue`] (the core's ACD over gRPC: hold announcements,
//! ringing the agent's softphone, bridging), and [`VoicemailFallback`] (no ACD: the caller
//! hears that no agent can take the call and leaves a message; also what `GrpcQueue` falls
//! back to when the core cannot queue the call). Tests plug in fakes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use hotline_ivr::flows::{self, Flow, FlowError, FlowOutcome};
use hotline_ivr::prompts::id;
use hotline_ivr::{Backend, IvrConfig};
use hotline_media::MediaConfig;
use hotline_sip::driver::{DriverError, SipHandle};
use hotline_sip::endpoint::{CallId, Event, OutgoingCall};
use tokio::sync::mpsc;

use crate::SipChannel;
use crate::router::Router;

/// Why the caller wants an agent (from [`FlowOutcome::ToAgent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentRequest {
    /// Needs a senior agent (JO8 customer, escalation, overdue repeat).
    pub senior: bool,
    /// The ticket created in this call, for the agent's screen pop.
    pub ticket: Option<i64>,
}

/// What an [`AgentQueue`] works with besides the caller's channel.
#[derive(Clone)]
pub struct CallContext {
    /// The core, as the IVR's service account.
    pub backend: Arc<dyn Backend>,
    /// IVR settings (voicemail limits and directory).
    pub ivr: Arc<IvrConfig>,
    /// SIP commands (bindings of agents, hang-up).
    pub sip: SipHandle,
    /// Settings for binding the agent's media leg.
    pub media: MediaConfig,
    /// Where bridged calls are recorded for quality inspection (`None` = not recorded).
    pub qa_recording_dir: Option<Arc<Path>>,
    /// Which of them are recorded.
    pub qa_recording: crate::qa_upload::RecordingPolicy,
    pub(crate) router: Router,
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext").finish_non_exhaustive()
    }
}

impl CallContext {
    /// The quality-inspection recording of call `call_id`, when recording is configured and
    /// the policy picks this call: `<dir>/<call-id>.wav` with every character outside
    /// `[A-Za-z0-9._-]` (and a leading dot) replaced by `_`, so a Call-ID cannot name a path
    /// outside the directory.
    pub fn qa_recording_path(&self, call_id: &str) -> Option<PathBuf> {
        let dir = self.qa_recording_dir.as_ref()?;
        if !self.qa_recording.records(call_id) {
            return None;
        }
        Some(dir.join(format!("{}.wav", sanitise_call_id(call_id))))
    }

    /// Places an outgoing call (ringing an agent's softphone) and returns its handle with the
    /// receiver of its events (`Ringing`, `Answered`, `Failed`, `TimedOut`, `Cancelled`,
    /// then in-dialog ones). Registered with the router before any event can arrive.
    pub async fn invite(
        &self,
        out: OutgoingCall,
    ) -> Result<(CallId, mpsc::UnboundedReceiver<Event>), DriverError> {
        self.router.invite(&self.sip, out).await
    }
}

/// A Call-ID as a file name: `[A-Za-z0-9._-]` kept, anything else (and a leading dot) `_`;
/// at most 200 characters; never empty.
pub fn sanitise_call_id(call_id: &str) -> String {
    let mut out: String = call_id
        .chars()
        .take(200)
        .enumerate()
        .map(|(i, c)| match c {
            '.' if i == 0 => '_',
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') => c,
            _ => '_',
        })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Takes a caller the IVR transferred to an agent; returns how the call ended. The server
/// hangs up and closes the channel afterwards.
#[async_trait]
pub trait AgentQueue: Send + Sync {
    /// Handles one transferred caller.
    async fn take(
        &self,
        ch: &mut SipChannel,
        ctx: &CallContext,
        request: AgentRequest,
    ) -> Result<FlowOutcome, FlowError>;
}

/// No ACD reachable: "no agent can take your call", then the voicemail flow.
#[derive(Debug, Default, Clone, Copy)]
pub struct VoicemailFallback;

#[async_trait]
impl AgentQueue for VoicemailFallback {
    async fn take(
        &self,
        ch: &mut SipChannel,
        ctx: &CallContext,
        request: AgentRequest,
    ) -> Result<FlowOutcome, FlowError> {
        tracing::info!(?request, "no agent queue: voicemail");
        let mut f = Flow::new(ch, ctx.backend.as_ref(), &ctx.ivr);
        let result = async {
            f.say(&[id::NO_AGENT]).await?;
            flows::voicemail::run(&mut f, "").await
        }
        .await;
        flows::finish(&mut f, result).await
    }
}

#[cfg(test)]
mod tests {
    use super::sanitise_call_id;

    #[test]
    fn call_ids_become_safe_file_names() {
        assert_eq!(
            sanitise_call_id("a84b4c76e66710@pc33.example.com"),
            "a84b4c76e66710_pc33.example.com"
        );
        assert_eq!(sanitise_call_id("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(sanitise_call_id(".hidden"), "_hidden");
        assert_eq!(sanitise_call_id(""), "_");
        assert_eq!(sanitise_call_id("呼叫/1"), "___1");
        assert_eq!(sanitise_call_id(&"x".repeat(500)).len(), 200);
    }
}
