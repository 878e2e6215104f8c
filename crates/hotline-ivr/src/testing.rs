//! Test doubles without sockets: [`ScriptedChannel`] (a caller that follows a script of keys,
//! timeouts, speech and a hang-up, and remembers every prompt played) and [`FakeBackend`] (an
//! in-memory core). Used by this crate's tests and usable by the glue's.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::backend::{Backend, BackendError, NewReport, NewVoicemail, ReportCreated, TicketState};
use crate::channel::{
    Channel, ChannelError, CollectEnd, CollectSpec, Collected, PlayOutcome, RecordEnd,
    RecordOutcome, RecordSpec,
};
use crate::prompts;

/// One thing the scripted caller does, in order. By default the caller listens to every
/// prompt to its end before pressing keys; [`ScriptedChannel::barging`] makes keys cut
/// barge-in prompts short (the key is then kept for the next collection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Presses a key (interrupts a barge-in prompt; otherwise waits as type-ahead).
    Key(char),
    /// Lets a collection time out.
    Timeout,
    /// Speaks for a while into a recording, which then ends for `end`
    /// (`RecordEnd::Hangup` also hangs up).
    Speak(Duration, RecordEnd),
    /// Hangs up.
    Hangup,
}

/// A [`Channel`] driven by a script. When the script runs out the caller hangs up, so a flow
/// waiting for more input ends instead of looping.
#[derive(Debug)]
pub struct ScriptedChannel {
    call_id: String,
    caller_id: String,
    script: VecDeque<Step>,
    /// Every prompt id played, in order.
    pub played: Vec<String>,
    /// Whether [`Channel::answer`] was called.
    pub answered: bool,
    /// Whether the flow hung up (as opposed to the caller).
    pub hung_up_by_ivr: bool,
    /// Whether the caller has hung up.
    pub caller_gone: bool,
    /// Every collection asked for.
    pub collects: Vec<CollectSpec>,
    barging: bool,
}

impl ScriptedChannel {
    /// A call from `caller_id`.
    pub fn new(call_id: &str, caller_id: &str) -> Self {
        ScriptedChannel {
            call_id: call_id.into(),
            caller_id: caller_id.into(),
            script: VecDeque::new(),
            played: Vec::new(),
            answered: false,
            hung_up_by_ivr: false,
            caller_gone: false,
            collects: Vec::new(),
            barging: false,
        }
    }

    /// Keys interrupt barge-in prompts instead of waiting for their end.
    pub fn barging(mut self) -> Self {
        self.barging = true;
        self
    }

    /// Presses these keys.
    pub fn keys(mut self, keys: &str) -> Self {
        self.script.extend(keys.chars().map(Step::Key));
        self
    }

    /// Lets the next collection time out.
    pub fn timeout(mut self) -> Self {
        self.script.push_back(Step::Timeout);
        self
    }

    /// Speaks for `secs` into a recording ended by `end`.
    pub fn speak(mut self, secs: u64, end: RecordEnd) -> Self {
        self.script
            .push_back(Step::Speak(Duration::from_secs(secs), end));
        self
    }

    /// Hangs up.
    pub fn hangup(mut self) -> Self {
        self.script.push_back(Step::Hangup);
        self
    }

    /// Steps not used by the flow.
    pub fn remaining(&self) -> &VecDeque<Step> {
        &self.script
    }

    /// Whether `id` was played.
    pub fn heard(&self, id: &str) -> bool {
        self.played.iter().any(|p| p == id)
    }

    /// How often `id` was played.
    pub fn times_heard(&self, id: &str) -> usize {
        self.played.iter().filter(|p| *p == id).count()
    }

    fn live(&self) -> Result<(), ChannelError> {
        if self.caller_gone || self.hung_up_by_ivr {
            Err(ChannelError::Hangup)
        } else {
            Ok(())
        }
    }

    fn gone(&mut self) -> ChannelError {
        self.caller_gone = true;
        ChannelError::Hangup
    }
}

fn write_silence(path: &Path, duration: Duration) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(|e| e.to_string())?;
    let samples = duration.as_millis() as u64 * 8;
    for i in 0..samples {
        // A quiet 400 Hz-ish square wave: not silence, not loud.
        let s: i16 = if (i / 10) % 2 == 0 { 800 } else { -800 };
        w.write_sample(s).map_err(|e| e.to_string())?;
    }
    w.finalize().map_err(|e| e.to_string())
}

#[async_trait]
impl Channel for ScriptedChannel {
    fn call_id(&self) -> &str {
        &self.call_id
    }

    fn caller_id(&self) -> &str {
        &self.caller_id
    }

    async fn answer(&mut self) -> Result<(), ChannelError> {
        self.live()?;
        self.answered = true;
        Ok(())
    }

    async fn play(&mut self, ids: &[&str], barge_in: bool) -> Result<PlayOutcome, ChannelError> {
        self.live()?;
        for id in ids {
            if !prompts::USED.contains(id) {
                return Err(ChannelError::Prompt {
                    id: (*id).into(),
                    reason: "not in prompts::USED".into(),
                });
            }
        }
        self.played.extend(ids.iter().map(|s| (*s).to_owned()));
        match self.script.front() {
            Some(Step::Hangup) => {
                self.script.pop_front();
                Err(self.gone())
            }
            Some(Step::Key(k)) if barge_in && self.barging => Ok(PlayOutcome::Interrupted(*k)),
            _ => Ok(PlayOutcome::Completed),
        }
    }

    async fn collect_digits(&mut self, spec: &CollectSpec) -> Result<Collected, ChannelError> {
        self.live()?;
        self.collects.push(spec.clone());
        let mut digits = String::new();
        loop {
            match self.script.pop_front() {
                None | Some(Step::Hangup) => return Err(self.gone()),
                Some(Step::Timeout) => {
                    return Ok(Collected {
                        digits,
                        end: CollectEnd::Timeout,
                    });
                }
                Some(Step::Key(k)) if spec.terminators.contains(k) => {
                    return Ok(Collected {
                        digits,
                        end: CollectEnd::Terminator(k),
                    });
                }
                Some(Step::Key(k)) => {
                    digits.push(k);
                    if spec.max_digits != 0 && digits.chars().count() >= spec.max_digits {
                        return Ok(Collected {
                            digits,
                            end: CollectEnd::MaxDigits,
                        });
                    }
                }
                Some(s @ Step::Speak(..)) => {
                    return Err(ChannelError::Failed(format!(
                        "script: {s:?} where keys were expected"
                    )));
                }
            }
        }
    }

    async fn record(
        &mut self,
        path: &Path,
        spec: &RecordSpec,
    ) -> Result<RecordOutcome, ChannelError> {
        self.live()?;
        let (spoken, end) = match self.script.pop_front() {
            Some(Step::Speak(d, end)) => (d, end),
            Some(Step::Key(k)) if spec.end_keys.contains(k) => (Duration::ZERO, RecordEnd::Key(k)),
            None | Some(Step::Hangup) => (Duration::ZERO, RecordEnd::Hangup),
            Some(s) => {
                return Err(ChannelError::Failed(format!(
                    "script: {s:?} where speech was expected"
                )));
            }
        };
        if end == RecordEnd::Hangup {
            self.caller_gone = true;
        }
        let (duration, end) = if spoken > spec.max_duration {
            (spec.max_duration, RecordEnd::MaxDuration)
        } else {
            (spoken, end)
        };
        if duration < spec.min_duration {
            return Ok(RecordOutcome::Discarded { duration, end });
        }
        write_silence(path, duration).map_err(|reason| ChannelError::Record {
            path: path.to_owned(),
            reason,
        })?;
        Ok(RecordOutcome::Saved {
            path: path.to_owned(),
            duration,
            end,
        })
    }

    async fn hangup(&mut self) -> Result<(), ChannelError> {
        self.hung_up_by_ivr = true;
        Ok(())
    }
}

/// An in-memory core: numbers its tickets from 1001, remembers reports and voicemails.
#[derive(Debug)]
pub struct FakeBackend {
    state: Mutex<FakeState>,
}

#[derive(Debug)]
struct FakeState {
    next_ticket: i64,
    reports: Vec<NewReport>,
    voicemails: Vec<NewVoicemail>,
    latest: HashMap<String, TicketState>,
    agents: bool,
    escalate: bool,
    fail_create: Option<BackendError>,
}

impl Default for FakeBackend {
    fn default() -> Self {
        FakeBackend::new()
    }
}

impl FakeBackend {
    /// Agents logged in, no tickets.
    pub fn new() -> Self {
        FakeBackend {
            state: Mutex::new(FakeState {
                next_ticket: 1001,
                reports: Vec::new(),
                voicemails: Vec::new(),
                latest: HashMap::new(),
                agents: true,
                escalate: false,
                fail_create: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets whether any agent is logged in.
    pub fn with_agents(self, available: bool) -> Self {
        self.lock().agents = available;
        self
    }

    /// Makes every new report one the caller must take to a senior (JO5/JO8).
    pub fn escalating(self) -> Self {
        self.lock().escalate = true;
        self
    }

    /// Makes report creation fail.
    pub fn failing_create(self, e: BackendError) -> Self {
        self.lock().fail_create = Some(e);
        self
    }

    /// Sets the latest ticket of a number.
    pub fn with_ticket(self, number: &str, state: TicketState) -> Self {
        self.lock().latest.insert(number.into(), state);
        self
    }

    /// Reports created so far.
    pub fn reports(&self) -> Vec<NewReport> {
        self.lock().reports.clone()
    }

    /// Voicemails registered so far.
    pub fn voicemails(&self) -> Vec<NewVoicemail> {
        self.lock().voicemails.clone()
    }
}

#[async_trait]
impl Backend for FakeBackend {
    async fn create_report(&self, report: &NewReport) -> Result<ReportCreated, BackendError> {
        let mut s = self.lock();
        if let Some(e) = s.fail_create.clone() {
            return Err(e);
        }
        let ticket_id = s.next_ticket;
        s.next_ticket += 1;
        s.reports.push(report.clone());
        Ok(ReportCreated {
            ticket_id,
            offer_agent: s.escalate,
            senior: s.escalate,
        })
    }

    async fn latest_ticket(&self, number: &str) -> Result<Option<TicketState>, BackendError> {
        Ok(self.lock().latest.get(number).cloned())
    }

    async fn agents_available(&self) -> Result<bool, BackendError> {
        Ok(self.lock().agents)
    }

    async fn save_voicemail(&self, voicemail: &NewVoicemail) -> Result<(), BackendError> {
        self.lock().voicemails.push(voicemail.clone());
        Ok(())
    }
}
