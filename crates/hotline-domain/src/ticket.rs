//! The fault report (申告单): who reported which line, what is wrong, how it came in, and where
//! it stands. Validation of a new report happens here, before anything is stored.

use crate::ids::OrderId;
use crate::named::named_enum;
use crate::phone::{PhoneError, PhoneNumber};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::ids::TicketId;

named_enum!(
    /// Customer class, from the customer directory when the number is listed (issue 19).
    /// Big, important and leased-line customers go to a senior (JO8); VIPs keep the junior
    /// flow and get their own repair time limit from the table.
    CustomerClass {
        Ordinary = "ordinary", "普通用户";
        Big = "big", "大用户";
        Important = "important", "重要用户";
        LeasedLine = "leased_line", "专线用户";
        Vip = "vip", "VIP用户";
    }
);

named_enum!(
    FaultType {
        NoDialTone = "no_dial_tone", "无音";
        Noise = "noise", "杂音";
        CannotCallOut = "cannot_call_out", "不能呼出";
        CannotReceive = "cannot_receive", "不能呼入";
        Drops = "drops", "断线";
        Crosstalk = "crosstalk", "串线";
        LeasedLineDown = "leased_line_down", "专线中断";
        CableDamage = "cable_damage", "线缆故障";
        Other = "other", "其他";
    }
);

named_enum!(
    /// How the report reached the desk (SF4: all channels are accepted centrally).
    Channel {
        Ivr = "ivr", "语音自助";
        Phone = "phone", "人工电话";
        Letter = "letter", "信函";
        Fax = "fax", "传真";
        Email = "email", "电子邮件";
        WalkIn = "walk_in", "来访";
        Voicemail = "voicemail", "语音信箱";
        OtherDepartment = "other_department", "其他部门转来";
    }
);

named_enum!(
    TicketStatus {
        New = "new", "已受理";
        Escalated = "escalated", "已转高级话务员";
        AwaitingReview = "awaiting_review", "待二次审核";
        Dispatched = "dispatched", "已派单";
        Answered = "answered", "已答复";
        ManagerHotline = "manager_hotline", "已转经理热线";
        Cleared = "cleared", "已回单";
        Cancelled = "cancelled", "已退单";
        Closed = "closed", "已结案";
    }
);

impl CustomerClass {
    /// JO8: big, important and leased-line customers are handled by a senior.
    pub fn needs_senior(self) -> bool {
        matches!(
            self,
            CustomerClass::Big | CustomerClass::Important | CustomerClass::LeasedLine
        )
    }

    /// Issue 19: a report for a big customer's line is 加急 (urgent) from the start, so its
    /// dispatch allowance is the urgent one (SO2).
    pub fn marks_urgent(self) -> bool {
        matches!(self, CustomerClass::Big)
    }
}

impl Channel {
    /// TE1: letters, faxes, e-mail and what other departments pass on are text reports, to be
    /// entered within two hours of receipt.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Channel::Letter | Channel::Fax | Channel::Email | Channel::OtherDepartment
        )
    }

    /// TE3: letters, faxes and e-mails leave an original that the data manager files.
    pub fn has_original(self) -> bool {
        matches!(self, Channel::Letter | Channel::Fax | Channel::Email)
    }
}

impl TicketStatus {
    /// Open tickets can still be acted on; a report on the same number is a repeat.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            TicketStatus::Answered
                | TicketStatus::Cleared
                | TicketStatus::Cancelled
                | TicketStatus::Closed
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub name: String,
    pub class: CustomerClass,
    /// 分公司
    pub branch: String,
}

/// A fault report as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub faulty_number: PhoneNumber,
    pub contact_number: Option<PhoneNumber>,
    pub customer: Customer,
    pub fault_type: FaultType,
    pub description: String,
    pub channel: Channel,
    /// When the desk received the report (for a letter: when the letter arrived).
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub created_by: String,
    pub urgent: bool,
    pub status: TicketStatus,
    pub repeat_of: Option<TicketId>,
    pub supplement_of: Option<TicketId>,
    /// The dispatch order in force, once one was approved.
    pub dispatch_order: Option<OrderId>,
    /// Optimistic-concurrency version, bumped on every change.
    pub version: i64,
    pub updated_at: Timestamp,
}

/// What an operator or the IVR submits; validated by [`NewTicket::validate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewTicket {
    pub faulty_number: String,
    pub contact_number: String,
    pub customer_name: String,
    pub customer_class: String,
    pub branch: String,
    pub fault_type: String,
    pub description: String,
    pub channel: String,
    /// `None` means "now".
    pub received_at: Option<Timestamp>,
    pub urgent: bool,
    pub supplement_of: Option<TicketId>,
}

/// A new report that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidTicket {
    pub faulty_number: PhoneNumber,
    pub contact_number: Option<PhoneNumber>,
    pub customer: Customer,
    pub fault_type: FaultType,
    pub description: String,
    pub channel: Channel,
    pub received_at: Timestamp,
    pub urgent: bool,
    pub supplement_of: Option<TicketId>,
}

pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_NAME_CHARS: usize = 100;

/// A field that failed validation, named as in the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        ValidationError {
            field,
            reason: reason.into(),
        }
    }
    fn phone(field: &'static str, e: PhoneError) -> Self {
        ValidationError::new(field, e.to_string())
    }
}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<String, ValidationError> {
    let n = s.chars().count();
    if n > max {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ValidationError::new(field, "contains control characters"));
    }
    Ok(s.trim().to_string())
}

fn list<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
    all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
}

impl NewTicket {
    /// Checks every field; `now` fills a missing received-at and bounds it (no future reports).
    pub fn validate(&self, now: Timestamp) -> Result<ValidTicket, ValidationError> {
        let faulty_number = PhoneNumber::parse(&self.faulty_number)
            .map_err(|e| ValidationError::phone("faulty_number", e))?;
        let contact_number = if self.contact_number.trim().is_empty() {
            None
        } else {
            Some(
                PhoneNumber::parse(&self.contact_number)
                    .map_err(|e| ValidationError::phone("contact_number", e))?,
            )
        };
        let class = if self.customer_class.is_empty() {
            CustomerClass::Ordinary
        } else {
            CustomerClass::parse(&self.customer_class).ok_or_else(|| {
                ValidationError::new(
                    "customer_class",
                    format!(
                        "unknown class {:?}; expected one of {}",
                        self.customer_class,
                        list(&CustomerClass::ALL, CustomerClass::as_str)
                    ),
                )
            })?
        };
        let fault_type = FaultType::parse(&self.fault_type).ok_or_else(|| {
            ValidationError::new(
                "fault_type",
                format!(
                    "unknown fault type {:?}; expected one of {}",
                    self.fault_type,
                    list(&FaultType::ALL, FaultType::as_str)
                ),
            )
        })?;
        let channel = Channel::parse(&self.channel).ok_or_else(|| {
            ValidationError::new(
                "channel",
                format!(
                    "unknown channel {:?}; expected one of {}",
                    self.channel,
                    list(&Channel::ALL, Channel::as_str)
                ),
            )
        })?;
        let received_at = self.received_at.unwrap_or(now);
        if received_at > now.plus_ms(60_000) {
            return Err(ValidationError::new("received_at", "is in the future"));
        }
        if received_at.0 < 0 {
            return Err(ValidationError::new("received_at", "is before 1970"));
        }
        Ok(ValidTicket {
            faulty_number,
            contact_number,
            customer: Customer {
                name: check_len("customer_name", &self.customer_name, MAX_NAME_CHARS)?,
                class,
                branch: check_len("branch", &self.branch, MAX_NAME_CHARS)?,
            },
            fault_type,
            description: check_len("description", &self.description, MAX_DESCRIPTION_CHARS)?,
            channel,
            received_at,
            urgent: self.urgent,
            supplement_of: self.supplement_of,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> NewTicket {
        NewTicket {
            faulty_number: "01066554433".into(),
            fault_type: "no_dial_tone".into(),
            channel: "ivr".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_report_defaults_to_ordinary_and_now() {
        let v = base().validate(Timestamp(1000)).unwrap();
        assert_eq!(v.customer.class, CustomerClass::Ordinary);
        assert_eq!(v.received_at, Timestamp(1000));
        assert_eq!(v.contact_number, None);
    }

    #[test]
    fn each_bad_field_is_named() {
        let now = Timestamp(10_000_000);
        let cases: Vec<(NewTicket, &str)> = vec![
            (
                NewTicket {
                    faulty_number: "".into(),
                    ..base()
                },
                "faulty_number",
            ),
            (
                NewTicket {
                    faulty_number: "12ab".into(),
                    ..base()
                },
                "faulty_number",
            ),
            (
                NewTicket {
                    contact_number: "1".into(),
                    ..base()
                },
                "contact_number",
            ),
            (
                NewTicket {
                    fault_type: "fire".into(),
                    ..base()
                },
                "fault_type",
            ),
            (
                NewTicket {
                    channel: "pigeon".into(),
                    ..base()
                },
                "channel",
            ),
            (
                NewTicket {
                    customer_class: "platinum".into(),
                    ..base()
                },
                "customer_class",
            ),
            (
                NewTicket {
                    description: "x".repeat(2001),
                    ..base()
                },
                "description",
            ),
            (
                NewTicket {
                    customer_name: "a\u{0}b".into(),
                    ..base()
                },
                "customer_name",
            ),
            (
                NewTicket {
                    received_at: Some(Timestamp(now.0 + 3_600_000)),
                    ..base()
                },
                "received_at",
            ),
        ];
        for (t, field) in cases {
            let err = t.validate(now).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(!err.reason.is_empty());
        }
    }

    #[test]
    fn labels_are_chinese_and_names_round_trip() {
        for f in FaultType::ALL {
            assert_eq!(FaultType::parse(f.as_str()), Some(f));
            assert!(!f.label_zh().is_ascii());
        }
        assert_eq!(FaultType::NoDialTone.label_zh(), "无音");
        assert!(CustomerClass::LeasedLine.needs_senior());
        assert!(!CustomerClass::Ordinary.needs_senior());
        assert!(!CustomerClass::Vip.needs_senior());
        assert!(CustomerClass::Big.marks_urgent());
        assert!(!CustomerClass::Important.marks_urgent());
        assert!(Channel::Fax.is_text() && !Channel::Ivr.is_text());
        assert!(Channel::Fax.has_original() && !Channel::OtherDepartment.has_original());
    }
}
