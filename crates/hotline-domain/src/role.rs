//! The desk's roles (seven from the seed plus the administrator and service accounts).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 初级话务员
    Junior,
    /// 高级话务员
    Senior,
    /// 文本录入员
    TextEntry,
    /// 录音提取员
    RecordingExtractor,
    /// 用户满意度调查员
    Surveyor,
    /// 资料管理员
    DataManager,
    /// 质检员
    Qa,
    /// 管理员: manages agents; may act as a senior.
    Admin,
    /// Service accounts: the IVR and the 112-centre adapter.
    System,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Junior,
        Role::Senior,
        Role::TextEntry,
        Role::RecordingExtractor,
        Role::Surveyor,
        Role::DataManager,
        Role::Qa,
        Role::Admin,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Junior => "junior",
            Role::Senior => "senior",
            Role::TextEntry => "text_entry",
            Role::RecordingExtractor => "recording_extractor",
            Role::Surveyor => "surveyor",
            Role::DataManager => "data_manager",
            Role::Qa => "qa",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Chinese name shown to people.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Junior => "初级话务员",
            Role::Senior => "高级话务员",
            Role::TextEntry => "文本录入员",
            Role::RecordingExtractor => "录音提取员",
            Role::Surveyor => "用户满意度调查员",
            Role::DataManager => "资料管理员",
            Role::Qa => "质检员",
            Role::Admin => "管理员",
            Role::System => "系统",
        }
    }

    /// Roles that register reports and work the junior flow (TE5, RE2: clerks and extractors
    /// work as juniors when they have no text or recordings).
    pub fn works_junior_flow(self) -> bool {
        matches!(
            self,
            Role::Junior | Role::TextEntry | Role::RecordingExtractor
        )
    }

    /// Roles whose orders are sent without a second review.
    pub fn is_senior(self) -> bool {
        matches!(self, Role::Senior | Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("manager"), None);
    }
}
