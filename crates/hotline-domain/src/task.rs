//! Follow-up work the workflow leaves for a role: who works which kind.

use crate::Role;
use crate::named::named_enum;

named_enum!(
    /// A kind of task.
    TaskKind {
        /// SO4: call the customer back after a senior rejected the dispatch (answered without one).
        Callback = "callback", "回访用户";
        /// SS2: callback survey after the 112 centre cleared the fault (回单).
        Survey = "survey", "满意度回访调查";
        /// TE3: file the original of a letter, fax or e-mail (the data manager, DM5).
        FileOriginal = "file_original", "原件归档";
    }
);

impl TaskKind {
    /// Who works this kind (admins stand in for everyone).
    pub fn worked_by(self, role: Role) -> bool {
        role == Role::Admin
            || match self {
                TaskKind::Callback => matches!(role, Role::Junior | Role::Senior),
                TaskKind::Survey => role == Role::Surveyor,
                TaskKind::FileOriginal => role == Role::DataManager,
            }
    }

    /// The kinds a role works on.
    pub fn for_role(role: Role) -> Vec<TaskKind> {
        Self::ALL
            .into_iter()
            .filter(|k| k.worked_by(role))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn te3_originals_go_to_the_data_manager_and_surveys_to_the_surveyor() {
        assert_eq!(
            TaskKind::for_role(Role::DataManager),
            vec![TaskKind::FileOriginal]
        );
        assert_eq!(TaskKind::for_role(Role::Surveyor), vec![TaskKind::Survey]);
        assert_eq!(TaskKind::for_role(Role::Junior), vec![TaskKind::Callback]);
        assert!(TaskKind::for_role(Role::Qa).is_empty());
        assert_eq!(TaskKind::for_role(Role::Admin).len(), 3);
        for k in TaskKind::ALL {
            assert_eq!(TaskKind::parse(k.as_str()), Some(k));
        }
    }
}
