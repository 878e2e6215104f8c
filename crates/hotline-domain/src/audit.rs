//! What a ticket's audit row records ([`AuditAction`]): a workflow action, one of the desk's
//! own events, or a finished follow-up task. One wire name and one Chinese label per action,
//! declared here; the store writes and parses the wire name, the API and the desktop show the
//! label.

use std::borrow::Cow;

use crate::named::named_enum;
use crate::survey::InvestigationOutcome;
use crate::task::TaskKind;
use crate::workflow::ActionKind;

named_enum!(
    /// Events of the desk that are not workflow actions.
    DeskEventKind {
        /// The report was registered (受理).
        Create = "create", "受理";
        /// A supplementary complaint (补充申诉, JO6) was added to this ticket.
        Supplement = "supplement", "补充申诉";
        /// An order reached the 112 centre.
        Delivered = "delivered", "已送达测量台";
        /// The 112 centre reported progress on an order.
        CenterStatus = "center_status", "测量台进度";
        /// The 112 centre refused an order for good.
        DeliveryFailed = "delivery_failed", "测量台拒收";
        /// A satisfaction callback was attempted or recorded (SS1/SS2).
        SurveyCallback = "survey_callback", "满意度回访";
    }
);

/// One audit row's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A workflow action (`workflow::TABLE`).
    Workflow(ActionKind),
    /// A desk event.
    Desk(DeskEventKind),
    /// A follow-up task of this kind was completed.
    TaskDone(TaskKind),
    /// A surveyor's investigation of a repeat report on a finished order ended so (SS4).
    Investigated(InvestigationOutcome),
}

/// The wire prefix of [`AuditAction::TaskDone`] (`task_done:callback`).
const TASK_DONE: &str = "task_done:";
/// The wire prefix of [`AuditAction::Investigated`] (`survey_investigation:apology`).
const INVESTIGATED: &str = "survey_investigation:";

impl AuditAction {
    /// The stored and API name (`dispatch`, `create`, `task_done:survey`).
    pub fn wire(self) -> Cow<'static, str> {
        match self {
            AuditAction::Workflow(k) => Cow::Borrowed(k.as_str()),
            AuditAction::Desk(k) => Cow::Borrowed(k.as_str()),
            AuditAction::TaskDone(k) => Cow::Owned(format!("{TASK_DONE}{}", k.as_str())),
            AuditAction::Investigated(o) => Cow::Owned(format!("{INVESTIGATED}{}", o.as_str())),
        }
    }

    /// The action whose wire name is `s`.
    pub fn parse(s: &str) -> Option<AuditAction> {
        if let Some(kind) = s.strip_prefix(TASK_DONE) {
            return TaskKind::parse(kind).map(AuditAction::TaskDone);
        }
        if let Some(outcome) = s.strip_prefix(INVESTIGATED) {
            return InvestigationOutcome::parse(outcome).map(AuditAction::Investigated);
        }
        ActionKind::parse(s)
            .map(AuditAction::Workflow)
            .or_else(|| DeskEventKind::parse(s).map(AuditAction::Desk))
    }

    /// What people see (zh-CN).
    pub fn label_zh(self) -> Cow<'static, str> {
        match self {
            AuditAction::Workflow(k) => Cow::Borrowed(k.label_zh()),
            AuditAction::Desk(k) => Cow::Borrowed(k.label_zh()),
            AuditAction::TaskDone(k) => Cow::Owned(format!("完成{}", k.label_zh())),
            AuditAction::Investigated(o) => Cow::Owned(format!("回访调查: {}", o.label_zh())),
        }
    }
}

impl From<ActionKind> for AuditAction {
    fn from(k: ActionKind) -> Self {
        AuditAction::Workflow(k)
    }
}

impl From<DeskEventKind> for AuditAction {
    fn from(k: DeskEventKind) -> Self {
        AuditAction::Desk(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<AuditAction> {
        let mut v: Vec<AuditAction> = ActionKind::ALL.into_iter().map(Into::into).collect();
        v.extend(DeskEventKind::ALL.into_iter().map(AuditAction::from));
        v.extend(TaskKind::ALL.into_iter().map(AuditAction::TaskDone));
        v.extend(
            InvestigationOutcome::ALL
                .into_iter()
                .map(AuditAction::Investigated),
        );
        v
    }

    #[test]
    fn every_action_has_one_wire_name_that_parses_back() {
        let all = all();
        let names: std::collections::HashSet<String> =
            all.iter().map(|a| a.wire().into_owned()).collect();
        assert_eq!(names.len(), all.len(), "no two actions share a wire name");
        for a in all {
            assert_eq!(AuditAction::parse(&a.wire()), Some(a));
            assert!(!a.label_zh().is_empty());
        }
    }

    #[test]
    fn stored_names_stay_as_they_were_written() {
        assert_eq!(
            AuditAction::TaskDone(TaskKind::Callback).wire(),
            "task_done:callback"
        );
        assert_eq!(AuditAction::from(DeskEventKind::Create).wire(), "create");
        assert_eq!(AuditAction::from(ActionKind::Review).label_zh(), "二次审核");
        assert_eq!(
            AuditAction::TaskDone(TaskKind::FileOriginal).label_zh(),
            "完成原件归档"
        );
        assert_eq!(AuditAction::parse("task_done:nothing"), None);
        assert_eq!(AuditAction::parse("Create"), None);
    }
}
