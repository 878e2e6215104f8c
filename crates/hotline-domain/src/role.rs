//! The desk's roles (seven from the seed plus the administrator and service accounts).

use crate::named::named_enum;

named_enum!(
    /// A role at the desk.
    Role {
        /// 初级话务员
        Junior = "junior", "初级话务员";
        /// 高级话务员
        Senior = "senior", "高级话务员";
        /// 文本录入员
        TextEntry = "text_entry", "文本录入员";
        /// 录音提取员
        RecordingExtractor = "recording_extractor", "录音提取员";
        /// 用户满意度调查员
        Surveyor = "surveyor", "用户满意度调查员";
        /// 资料管理员
        DataManager = "data_manager", "资料管理员";
        /// 质检员
        Qa = "qa", "质检员";
        /// 管理员: manages agents; may act as a senior.
        Admin = "admin", "管理员";
        /// Service accounts: the IVR and the 112-centre adapter.
        System = "system", "系统";
    }
);

named_enum!(
    /// An agent's presence (JO2), as stored, in the API and in the queue. The agent chooses
    /// `available`, `not_ready` or `logged_out`; the queue sets the others.
    Presence {
        /// 未登录
        LoggedOut = "logged_out", "未登录";
        /// 示闲: takes calls.
        Available = "available", "示闲";
        /// 振铃: a call is offered.
        Ringing = "ringing", "振铃";
        /// 通话中
        OnCall = "on_call", "通话中";
        /// 话后整理
        WrapUp = "wrap_up", "话后整理";
        /// 示忙
        NotReady = "not_ready", "示忙";
    }
);

impl Presence {
    /// Whether an agent may choose this presence (the others are the queue's to set).
    pub fn chosen_by_agent(self) -> bool {
        matches!(
            self,
            Presence::Available | Presence::NotReady | Presence::LoggedOut
        )
    }
}

impl Role {
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
