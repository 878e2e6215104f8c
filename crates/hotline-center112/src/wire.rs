//! TMF621-shaped JSON of the 112 centre's interface.
//!
//! - 派单 dispatch: `POST /troubleTicket` ([`TroubleTicketCreate`]) with our order id as
//!   `externalIdentifier`; the centre answers 201 with the [`TroubleTicket`], or 200 with the
//!   existing one when the same external identifier was already received (idempotent retry).
//! - 追单 follow-up, 催单 urging, the written warning of a second dispatch: `PATCH
//!   /troubleTicket/{id}` ([`TroubleTicketPatch`]) adding a [`Note`] (whose `id` makes the patch
//!   idempotent) and, for urging, a higher priority.
//! - 退单 cancellation: `PATCH` with `status: cancelled` and a reason; the centre may refuse
//!   with 409 and a [`CancelRefused`] body (say, the crew is already on site).
//! - 查询112进程 progress: `GET /troubleTicket/{id}` with `statusChangeHistory`.
//! - 人工测试 line test: `POST /lineTest` ([`LineTestRequest`]) → [`LineTest`].
//! - events: `POST /hub` ([`HubSubscription`]); the centre then POSTs [`Event`]s to the callback.

use serde::{Deserialize, Serialize};

/// TMF621 statuses: `hotline_domain::order::CenterStatus`, whose wire names are this JSON's.
pub use hotline_domain::order::CenterStatus as Status;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalIdentifier {
    /// Our order id, as a string: the centre deduplicates on it.
    pub id: String,
    #[serde(default)]
    pub external_identifier_type: String,
    #[serde(default)]
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// Makes a PATCH idempotent: a note whose id the ticket already has is not added again.
    pub id: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub date: String,
    pub text: String,
    /// `followUp` (追单), `urge` (催单), `warning` (二次派单书面警告), `dispatch`.
    #[serde(rename = "@type", default)]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Characteristic {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: Status,
    pub change_date: String,
    #[serde(default)]
    pub change_reason: String,
}

/// `POST /troubleTicket` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TroubleTicketCreate {
    pub external_identifier: Vec<ExternalIdentifier>,
    pub name: String,
    pub description: String,
    /// `Critical` for 加急 (urgent), else `Major`.
    pub severity: String,
    /// "1" (highest, urgent) … "4".
    pub priority: String,
    pub ticket_type: String,
    /// faultyNumber, faultType, customerClass, customerName, contactNumber, branch,
    /// hotlineTicketId, relatedTroubleTicket (for a second dispatch).
    pub characteristic: Vec<Characteristic>,
    #[serde(default)]
    pub note: Vec<Note>,
}

/// The centre's trouble ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TroubleTicket {
    pub id: String,
    #[serde(default)]
    pub href: String,
    pub external_identifier: Vec<ExternalIdentifier>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub ticket_type: String,
    pub status: Status,
    #[serde(default)]
    pub status_change_reason: String,
    #[serde(default)]
    pub status_change_history: Vec<StatusChange>,
    #[serde(default)]
    pub creation_date: String,
    #[serde(default)]
    pub last_update: String,
    #[serde(default)]
    pub expected_resolution_date: String,
    #[serde(default)]
    pub resolution_date: String,
    #[serde(default)]
    pub characteristic: Vec<Characteristic>,
    #[serde(default)]
    pub note: Vec<Note>,
}

impl TroubleTicket {
    pub fn characteristic(&self, name: &str) -> Option<&str> {
        self.characteristic
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.value.as_str())
    }
}

/// `PATCH /troubleTicket/{id}` body (JSON merge-patch of these fields).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TroubleTicketPatch {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_change_reason: Option<String>,
}

/// The body of a 409 answer to a cancellation the centre refuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelRefused {
    pub code: String,
    pub reason: String,
    pub trouble_ticket: TroubleTicket,
}

/// `POST /lineTest` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineTestRequest {
    pub line_number: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LineVerdict {
    Normal,
    OpenCircuit,
    ShortCircuit,
    EarthFault,
    CrossedLine,
    TerminalFault,
}

impl LineVerdict {
    pub fn label_zh(self) -> &'static str {
        match self {
            LineVerdict::Normal => "线路正常",
            LineVerdict::OpenCircuit => "断线 (开路)",
            LineVerdict::ShortCircuit => "短路",
            LineVerdict::EarthFault => "接地",
            LineVerdict::CrossedLine => "混线",
            LineVerdict::TerminalFault => "终端故障",
        }
    }
}

/// 人工测试 result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineTest {
    pub id: String,
    pub line_number: String,
    pub loop_resistance_ohm: f64,
    pub insulation_resistance_mohm: f64,
    pub ac_voltage_v: f64,
    pub dc_voltage_v: f64,
    pub verdict: LineVerdict,
    pub tested_at: String,
}

/// `POST /hub` body and answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubSubscription {
    #[serde(default)]
    pub id: String,
    pub callback: String,
    #[serde(default)]
    pub query: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    TroubleTicketStatusChangeEvent,
    TroubleTicketResolvedEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    pub trouble_ticket: TroubleTicket,
}

/// What the centre POSTs to a subscriber's callback, signed (see [`crate::signature`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event_id: String,
    /// RFC 3339.
    pub event_time: String,
    pub event_type: EventType,
    pub event: EventPayload,
}

/// The header carrying the event signature.
pub const SIGNATURE_HEADER: &str = "X-Hotline-Signature";
/// The header carrying a request's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_use_tmf621_spelling_and_never_rank_backwards() {
        assert_eq!(
            serde_json::to_string(&Status::InProgress).unwrap(),
            "\"inProgress\""
        );
        assert_eq!(
            serde_json::from_str::<Status>("\"held\"").unwrap(),
            Status::Held
        );
        assert!(serde_json::from_str::<Status>("\"exploded\"").is_err());
        assert!(Status::Resolved.rank() > Status::InProgress.rank());
        assert_eq!(Status::Held.rank(), Status::InProgress.rank());
    }

    #[test]
    fn trouble_ticket_round_trips_with_tmf_names() {
        let tt = TroubleTicket {
            id: "TT-1".into(),
            href: "/troubleTicket/TT-1".into(),
            external_identifier: vec![ExternalIdentifier {
                id: "42".into(),
                external_identifier_type: "hotlineOrder".into(),
                owner: "hotline".into(),
            }],
            name: "n".into(),
            description: "d".into(),
            severity: "Major".into(),
            priority: "3".into(),
            ticket_type: "lineFault".into(),
            status: Status::Acknowledged,
            status_change_reason: String::new(),
            status_change_history: vec![],
            creation_date: String::new(),
            last_update: String::new(),
            expected_resolution_date: String::new(),
            resolution_date: String::new(),
            characteristic: vec![Characteristic {
                name: "faultyNumber".into(),
                value: "01066554433".into(),
            }],
            note: vec![Note {
                id: "n1".into(),
                author: "hotline".into(),
                date: String::new(),
                text: "t".into(),
                kind: "followUp".into(),
            }],
        };
        let json = serde_json::to_value(&tt).unwrap();
        assert_eq!(
            json["externalIdentifier"][0]["externalIdentifierType"],
            "hotlineOrder"
        );
        assert_eq!(json["note"][0]["@type"], "followUp");
        assert_eq!(serde_json::from_value::<TroubleTicket>(json).unwrap(), tt);
        assert_eq!(tt.characteristic("faultyNumber"), Some("01066554433"));
    }
}
