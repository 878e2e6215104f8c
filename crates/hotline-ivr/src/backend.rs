//! The `Backend` trait: what the flows need from the core (create a report, the latest state
//! of a number's ticket, agents logged in, register a voicemail), with plain Rust types so
//! flows never see protobuf. [`crate::grpc_backend`] implements it over gRPC.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

/// The fault types a caller can choose in the IVR, with their core names (`fault_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultType {
    /// 无音
    NoDialTone,
    /// 杂音
    Noise,
    /// 不能呼出
    CannotCallOut,
    /// 不能呼入
    CannotReceive,
    /// 断线
    Drops,
    /// 其他
    Other,
}

impl FaultType {
    /// In menu order: key `1` is the first.
    pub const MENU: [FaultType; 6] = [
        FaultType::NoDialTone,
        FaultType::Noise,
        FaultType::CannotCallOut,
        FaultType::CannotReceive,
        FaultType::Drops,
        FaultType::Other,
    ];

    /// The core's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultType::NoDialTone => "no_dial_tone",
            FaultType::Noise => "noise",
            FaultType::CannotCallOut => "cannot_call_out",
            FaultType::CannotReceive => "cannot_receive",
            FaultType::Drops => "drops",
            FaultType::Other => "other",
        }
    }

    /// The menu key choosing this type.
    pub fn key(self) -> char {
        match self {
            FaultType::NoDialTone => '1',
            FaultType::Noise => '2',
            FaultType::CannotCallOut => '3',
            FaultType::CannotReceive => '4',
            FaultType::Drops => '5',
            FaultType::Other => '6',
        }
    }

    /// The type chosen by a menu key.
    pub fn from_key(key: char) -> Option<FaultType> {
        FaultType::MENU.into_iter().find(|t| t.key() == key)
    }
}

/// A confirmed report from the IVR (channel `ivr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// The faulty number as confirmed by the caller.
    pub faulty_number: String,
    /// The chosen fault type.
    pub fault_type: FaultType,
    /// The caller's number (contact number; may be empty when withheld).
    pub caller_id: String,
    /// The call, for logs and idempotency on the core side.
    pub call_id: String,
}

/// The core's answer to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCreated {
    /// The new ticket.
    pub ticket_id: i64,
    /// The caller must be offered an agent instead of the self-service end (JO8: big,
    /// important or leased-line customer; JO5: a repeat past its limit).
    pub offer_agent: bool,
    /// That agent must be a senior.
    pub senior: bool,
}

/// Where a ticket is, in the words the IVR can say (JO9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Registered, not yet at the 112 centre (受理).
    Accepted,
    /// Dispatched to the 112 centre (已派测量台).
    AtCentre,
    /// The centre is working on it: crew dispatched (维修人员已出发).
    CrewDispatched,
    /// Cleared (已修复).
    Cleared,
    /// Cancelled (已撤销).
    Cancelled,
}

/// Maps the core's ticket status and the dispatch order's TMF621 centre status to
/// [`Progress`]. Pure, so the wording rule is tested without a core.
pub fn progress_of(status: &str, center_status: &str) -> Progress {
    match status {
        "cleared" | "closed" => Progress::Cleared,
        "cancelled" => Progress::Cancelled,
        "dispatched" => match center_status {
            "inProgress" | "pending" | "held" => Progress::CrewDispatched,
            "resolved" | "closed" => Progress::Cleared,
            _ => Progress::AtCentre,
        },
        _ => Progress::Accepted,
    }
}

/// The latest ticket on a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    /// The ticket.
    pub ticket_id: i64,
    /// The core's status name (`new`, `dispatched`, `cleared`, ...).
    pub status: String,
    /// The same in the words the IVR says.
    pub progress: Progress,
    /// Repair time limit in hours (0 = unknown).
    pub repair_limit_hours: u32,
    /// Whether the ticket is at the 112 centre (dispatched there).
    pub at_centre: bool,
}

/// A recorded message to register with the core (SF9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoicemail {
    /// The call; the file is named after it and the core is idempotent by it.
    pub call_id: String,
    /// The caller's number.
    pub caller_id: String,
    /// A number the caller entered before (report flow), or empty.
    pub number_entered: String,
    /// The WAV file.
    pub path: PathBuf,
    /// Audio length.
    pub duration: Duration,
}

/// Failures of the core as the IVR sees them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The core cannot be reached or is overloaded; a retry may help.
    #[error("core unavailable: {0}")]
    Unavailable(String),
    /// The core refused the request (validation, permission, state).
    #[error("core refused: {0}")]
    Refused(String),
    /// The service account could not log in.
    #[error("login failed: {0}")]
    Login(String),
    /// The core does not offer this yet.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The core's answer lacked something it must carry.
    #[error("unexpected answer from the core: {0}")]
    Protocol(String),
}

/// What flows need from the core. Implemented by [`crate::grpc_backend::GrpcBackend`] and by
/// test fakes.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Registers a confirmed report (channel `ivr`, received now).
    async fn create_report(&self, report: &NewReport) -> Result<ReportCreated, BackendError>;

    /// The latest ticket on `number`, if any.
    async fn latest_ticket(&self, number: &str) -> Result<Option<TicketState>, BackendError>;

    /// Whether at least one answering agent is logged in (else callers go to voicemail).
    async fn agents_available(&self) -> Result<bool, BackendError>;

    /// Registers a recorded message (the file is already on disk).
    async fn save_voicemail(&self, voicemail: &NewVoicemail) -> Result<(), BackendError>;
}
