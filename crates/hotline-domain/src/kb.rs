//! The knowledge base's articles (DM1, DM2, SO7): states, who may move them, edits with
//! optimistic concurrency, and what a valid article is.
//!
//! An article is `draft` → `in_review` → `published` → `retired` ([`ArticleState`]). Seniors
//! submit difficult cases with their answer straight from a ticket (SO7): the article starts in
//! review. The data manager writes drafts, edits, reviews (publishes, or returns to draft) and
//! retires (DM1, DM2). Every change is a new version; an edit names the version it was made
//! on and is refused with the current version number when that is not the latest.

use crate::named::named_enum;
use crate::role::Role;
use crate::ticket::{FaultType, ValidationError};

named_enum!(
    /// Where an article is in its life (`kb_articles.state`, the API's `Article.state`).
    ArticleState {
        /// Being written; not searchable by agents.
        Draft = "draft", "草稿";
        /// Submitted (by a senior from a ticket, or by the data manager), waiting for review.
        InReview = "in_review", "待审核";
        /// Searchable by every operator.
        Published = "published", "已发布";
        /// Withdrawn: kept with its versions, no longer offered.
        Retired = "retired", "已停用";
    }
);

named_enum!(
    /// A change of an article's state.
    ArticleAction {
        /// Draft → in review.
        Submit = "submit", "提交审核";
        /// In review (or draft) → published.
        Publish = "publish", "发布";
        /// In review → draft (the reviewer sends it back).
        Return = "return", "退回修改";
        /// Published → retired.
        Retire = "retire", "停用";
        /// Retired → draft (to rework and publish again).
        Reopen = "reopen", "重新启用";
    }
);

/// What one stored version of an article records (`kb_article_versions.change`): its creation,
/// an edit of its content, or a change of its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArticleChange {
    Create,
    Edit,
    Action(ArticleAction),
}

impl ArticleChange {
    /// The stored name: `create`, `edit`, or the action's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleChange::Create => "create",
            ArticleChange::Edit => "edit",
            ArticleChange::Action(a) => a.as_str(),
        }
    }

    /// The inverse of [`ArticleChange::as_str`].
    pub fn parse(s: &str) -> Option<ArticleChange> {
        match s {
            "create" => Some(ArticleChange::Create),
            "edit" => Some(ArticleChange::Edit),
            _ => ArticleAction::parse(s).map(ArticleChange::Action),
        }
    }

    /// Name shown to people (zh-CN).
    pub fn label_zh(self) -> &'static str {
        match self {
            ArticleChange::Create => "新建",
            ArticleChange::Edit => "修改内容",
            ArticleChange::Action(a) => a.label_zh(),
        }
    }
}

impl From<ArticleAction> for ArticleChange {
    fn from(a: ArticleAction) -> Self {
        ArticleChange::Action(a)
    }
}

named_enum!(
    /// What a classification tag is on (DM3: reports; DM4: the surveyor's results).
    TagScope {
        /// The report itself (content, customer type, ...).
        Ticket = "ticket", "申告单";
        /// The callback survey's result.
        Survey = "survey", "回访结果";
    }
);

/// Why the knowledge base refuses something.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KbRefusal {
    #[error(
        "article {article} is at version {current}, not {expected}: someone changed it; reload version {current} and edit again"
    )]
    StaleVersion {
        article: i64,
        expected: i64,
        current: i64,
    },
    #[error("the {} role may not {} an article", role.as_str(), what)]
    RoleMayNot { role: Role, what: &'static str },
    #[error("a {} article cannot be {}", from.as_str(), action.label_zh())]
    WrongState {
        from: ArticleState,
        action: ArticleAction,
    },
}

impl KbRefusal {
    /// A refusal of the caller's role (PERMISSION_DENIED) rather than of the article's state.
    pub fn is_permission(&self) -> bool {
        matches!(self, KbRefusal::RoleMayNot { .. })
    }
}

/// The roles that keep the knowledge base (DM1, DM2).
pub fn is_keeper(role: Role) -> bool {
    matches!(role, Role::DataManager | Role::Admin)
}

/// Who may create an article, and the state it starts in: the data manager writes drafts (or
/// submits at once); a senior's case from a ticket goes straight to review (SO7).
pub fn initial_state(role: Role, submit: bool) -> Result<ArticleState, KbRefusal> {
    match role {
        r if is_keeper(r) => Ok(if submit {
            ArticleState::InReview
        } else {
            ArticleState::Draft
        }),
        Role::Senior => Ok(ArticleState::InReview),
        role => Err(KbRefusal::RoleMayNot {
            role,
            what: "create",
        }),
    }
}

/// The state `action` moves an article in `from` to, if `role` may do it.
pub fn transition(
    role: Role,
    from: ArticleState,
    action: ArticleAction,
) -> Result<ArticleState, KbRefusal> {
    use ArticleAction as A;
    use ArticleState as S;
    if !is_keeper(role) {
        return Err(KbRefusal::RoleMayNot {
            role,
            what: action.as_str(),
        });
    }
    match (action, from) {
        (A::Submit, S::Draft) => Ok(S::InReview),
        (A::Publish, S::Draft | S::InReview) => Ok(S::Published),
        (A::Return, S::InReview) => Ok(S::Draft),
        (A::Retire, S::Published | S::Draft | S::InReview) => Ok(S::Retired),
        (A::Reopen, S::Retired) => Ok(S::Draft),
        _ => Err(KbRefusal::WrongState { from, action }),
    }
}

/// Whether `role` may edit an article in `state` (DM2: the keepers edit at any state but
/// retired; reopen first).
pub fn may_edit(role: Role, state: ArticleState) -> Result<(), KbRefusal> {
    if !is_keeper(role) {
        return Err(KbRefusal::RoleMayNot { role, what: "edit" });
    }
    if state == ArticleState::Retired {
        return Err(KbRefusal::WrongState {
            from: state,
            action: ArticleAction::Reopen,
        });
    }
    Ok(())
}

/// An edit made on `expected` of an article now at `current` is refused with `current`.
pub fn check_version(article: i64, expected: i64, current: i64) -> Result<(), KbRefusal> {
    if expected != current {
        return Err(KbRefusal::StaleVersion {
            article,
            expected,
            current,
        });
    }
    Ok(())
}

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 100_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 32;

/// An article's content, as written (before validation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArticleDraft {
    pub title: String,
    /// Markdown.
    pub body: String,
    pub tags: Vec<String>,
    /// Wire names of [`FaultType`].
    pub fault_types: Vec<String>,
}

/// A valid article's content: trimmed title and body, distinct tags, known fault types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArticleContent {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub fault_types: Vec<FaultType>,
}

impl ArticleDraft {
    /// Checks the content; errors name the field.
    pub fn validate(&self) -> Result<ArticleContent, ValidationError> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(ValidationError::new(
                "title",
                format!("must have 1-{MAX_TITLE} characters"),
            ));
        }
        let body = self.body.trim();
        if body.is_empty() || body.chars().count() > MAX_BODY {
            return Err(ValidationError::new(
                "body",
                format!("must have 1-{MAX_BODY} characters"),
            ));
        }
        Ok(ArticleContent {
            title: title.to_string(),
            body: body.to_string(),
            tags: tags("tags", &self.tags)?,
            fault_types: fault_types(&self.fault_types)?,
        })
    }
}

/// Distinct, trimmed tags: at most [`MAX_TAGS`], each 1-[`MAX_TAG`] characters without commas
/// or line breaks.
pub fn tags(field: &'static str, raw: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > MAX_TAG || t.contains([',', '\n', '\r']) {
            return Err(ValidationError::new(
                field,
                format!("{t:?}: a tag has 1-{MAX_TAG} characters, no commas or line breaks"),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ValidationError::new(
            field,
            format!("at most {MAX_TAGS} tags are allowed"),
        ));
    }
    Ok(out)
}

fn fault_types(raw: &[String]) -> Result<Vec<FaultType>, ValidationError> {
    let mut out = Vec::new();
    for f in raw {
        let ft = FaultType::parse(f.trim()).ok_or_else(|| {
            ValidationError::new(
                "fault_types",
                format!(
                    "unknown fault type {f:?}; use one of {}",
                    FaultType::ALL.map(FaultType::as_str).join(", ")
                ),
            )
        })?;
        if !out.contains(&ft) {
            out.push(ft);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_changes_round_trip_their_stored_names() {
        let all = [ArticleChange::Create, ArticleChange::Edit]
            .into_iter()
            .chain(ArticleAction::ALL.map(ArticleChange::Action));
        for c in all {
            assert_eq!(ArticleChange::parse(c.as_str()), Some(c), "{c:?}");
        }
        assert_eq!(ArticleChange::parse("delete"), None);
    }

    #[test]
    fn dm1_every_transition_in_and_outside_the_table() {
        use ArticleAction as A;
        use ArticleState as S;
        let allowed = [
            (A::Submit, S::Draft, S::InReview),
            (A::Publish, S::Draft, S::Published),
            (A::Publish, S::InReview, S::Published),
            (A::Return, S::InReview, S::Draft),
            (A::Retire, S::Draft, S::Retired),
            (A::Retire, S::InReview, S::Retired),
            (A::Retire, S::Published, S::Retired),
            (A::Reopen, S::Retired, S::Draft),
        ];
        for a in ArticleAction::ALL {
            for from in ArticleState::ALL {
                let want = allowed
                    .iter()
                    .find(|(x, f, _)| *x == a && *f == from)
                    .map(|r| r.2);
                let got = transition(Role::DataManager, from, a);
                match want {
                    Some(to) => assert_eq!(got, Ok(to), "{a:?} from {from:?}"),
                    None => assert_eq!(got, Err(KbRefusal::WrongState { from, action: a })),
                }
                for role in Role::ALL.into_iter().filter(|r| !is_keeper(*r)) {
                    let r = transition(role, from, a).unwrap_err();
                    assert!(r.is_permission(), "{role:?} {a:?}");
                }
            }
        }
    }

    #[test]
    fn so7_a_senior_submits_into_review_and_others_may_not_create() {
        assert_eq!(
            initial_state(Role::Senior, false),
            Ok(ArticleState::InReview)
        );
        assert_eq!(
            initial_state(Role::DataManager, false),
            Ok(ArticleState::Draft)
        );
        assert_eq!(
            initial_state(Role::DataManager, true),
            Ok(ArticleState::InReview)
        );
        for r in [
            Role::Junior,
            Role::Surveyor,
            Role::Qa,
            Role::TextEntry,
            Role::System,
        ] {
            assert!(initial_state(r, true).unwrap_err().is_permission());
        }
    }

    #[test]
    fn dm2_a_stale_edit_is_refused_with_the_current_version() {
        assert_eq!(check_version(7, 3, 3), Ok(()));
        let r = check_version(7, 2, 3).unwrap_err();
        assert!(r.to_string().contains("version 3, not 2"), "{r}");
        assert!(!r.is_permission());
        assert!(may_edit(Role::DataManager, ArticleState::Published).is_ok());
        assert!(may_edit(Role::DataManager, ArticleState::Retired).is_err());
        assert!(
            may_edit(Role::Senior, ArticleState::Draft)
                .unwrap_err()
                .is_permission()
        );
    }

    #[test]
    fn article_content_is_checked_field_by_field() {
        let ok = ArticleDraft {
            title: " 停电处理 ".into(),
            body: "小区突然停电".into(),
            tags: vec!["电力".into(), "电力".into(), " 供电 ".into()],
            fault_types: vec!["other".into()],
        };
        let c = ok.validate().unwrap();
        assert_eq!(c.title, "停电处理");
        assert_eq!(c.tags, ["电力", "供电"]);
        let field = |d: ArticleDraft| d.validate().unwrap_err().field;
        assert_eq!(
            field(ArticleDraft {
                title: "  ".into(),
                ..ok.clone()
            }),
            "title"
        );
        assert_eq!(
            field(ArticleDraft {
                body: String::new(),
                ..ok.clone()
            }),
            "body"
        );
        assert_eq!(
            field(ArticleDraft {
                tags: vec!["a,b".into()],
                ..ok.clone()
            }),
            "tags"
        );
        assert_eq!(
            field(ArticleDraft {
                fault_types: vec!["power".into()],
                ..ok.clone()
            }),
            "fault_types"
        );
        assert_eq!(
            tags("tags", &vec!["x".to_string(); 1]).unwrap(),
            ["x"],
            "duplicates collapse"
        );
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert!(tags("tags", &many).is_err());
    }

    #[test]
    fn states_keep_their_wire_names_and_labels() {
        let s: Vec<_> = ArticleState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(s, ["draft", "in_review", "published", "retired"]);
        assert_eq!(ArticleState::Published.label_zh(), "已发布");
        assert_eq!(TagScope::parse("survey"), Some(TagScope::Survey));
    }
}
