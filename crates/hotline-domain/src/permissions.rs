//! The permission matrix: which roles may call each gRPC method, and why the others may not.
//!
//! [`MATRIX`] has one row per method of the `hotline.v1` services, keyed by its full path
//! (`hotline.v1.TicketService/CreateTicket`). It is derived from the seed's division of labour
//! (REQUIREMENTS.md) and is the only list of who may call what: the core checks it once per
//! call, after authentication and before any handler runs, and `docs/permissions.md` is
//! rendered from it ([`render_markdown`]).
//!
//! Two other tables are referenced, not copied:
//! - workflow RPCs ([`Access::Workflow`]) may be called by the roles that have a row for the
//!   action in [`crate::workflow::TABLE`]; the workflow table still decides each action by
//!   ticket state;
//! - task RPCs ([`Access::Tasks`]) by the roles that work some [`TaskKind`].
//!
//! What a table of methods cannot express (rules that need the data: a surveyor sees the
//! customer contact only of tickets in its worklist, an extractor converts only a message it
//! claimed) is each row's `row_rule`, applied where the data is read.
//!
//! A method that has no row is refused ([`authorize`] returns [`Denied::NotInMatrix`]).

use crate::role::Role;
use crate::task::TaskKind;
use crate::workflow::{self, ActionKind};

/// Who may call a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token needed: `AgentService/Login` (it issues the token).
    Anonymous,
    /// Authenticated callers of these roles.
    Roles(&'static [Role]),
    /// A workflow action: the roles with a row for `action` in [`workflow::TABLE`], minus
    /// `except` (roles whose row is used inside the core, not over gRPC).
    Workflow {
        action: ActionKind,
        except: &'static [Role],
    },
    /// The roles that work at least one [`TaskKind`] ([`TaskKind::worked_by`]).
    Tasks,
}

/// One method's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `package.Service/Method`, as in the gRPC request path without its leading `/`.
    pub method: &'static str,
    pub access: Access,
    /// Why a role without access is refused (developer-facing English, in the status message).
    pub refusal: &'static str,
    /// Requirement IDs the row follows.
    pub reqs: &'static str,
    /// A rule on rows or fields that the handler applies for callers who pass the matrix.
    pub row_rule: &'static str,
}

/// Services any client may call without a token.
pub const PUBLIC_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

use Role as R;

/// Everyone who logs in, people and the service account.
const ANY: &[Role] = &Role::ALL;
/// People at a desk (every role but the `system` service account).
const STAFF: &[Role] = &[
    R::Junior,
    R::Senior,
    R::TextEntry,
    R::RecordingExtractor,
    R::Surveyor,
    R::DataManager,
    R::Qa,
    R::Admin,
];
const STAFF_AND_SYSTEM: &[Role] = ANY;
/// Roles that register reports, plus the IVR.
const REGISTER: &[Role] = &[
    R::Junior,
    R::Senior,
    R::TextEntry,
    R::RecordingExtractor,
    R::Admin,
    R::System,
];
/// Roles that handle a report while it is registered (the junior flow and seniors).
const DESK: &[Role] = &[
    R::Junior,
    R::Senior,
    R::TextEntry,
    R::RecordingExtractor,
    R::Admin,
];
const EXTRACTORS: &[Role] = &[R::RecordingExtractor, R::Senior, R::Admin];
const EXTRACTORS_AND_QA: &[Role] = &[R::RecordingExtractor, R::Senior, R::Admin, R::Qa];
const CALL_SERVER: &[Role] = &[R::System];
/// Who keeps the do-not-call list of the automated survey calls.
const DNC_KEEPERS: &[Role] = &[R::Surveyor, R::DataManager, R::Admin];
/// Who registers, enters and works documents (TE1, TE4).
const INTAKE_CLERKS: &[Role] = &[R::TextEntry, R::Senior, R::Admin];
/// Who reads the archive of originals (DM5).
const ARCHIVE_READERS: &[Role] = &[R::DataManager, R::TextEntry, R::Senior, R::Qa, R::Admin];
/// Who keeps the knowledge base (DM1, DM2).
const KB_KEEPERS: &[Role] = &[R::DataManager, R::Admin];
/// Who submits difficult cases (SO7).
const KB_SUBMITTERS: &[Role] = &[R::Senior, R::DataManager, R::Admin];
/// Who reads classification counts (DM3, DM4; the reports).
const TAG_READERS: &[Role] = &[R::DataManager, R::Qa, R::Admin];
/// Who runs the centre and reads its numbers (SF11, SS5, SO8): seniors, the data manager
/// (classified statistics, DM3) and administrators.
const REPORTERS: &[Role] = &[R::Senior, R::DataManager, R::Admin];
const ADMINS: &[Role] = &[R::Admin];
/// Who draws and scores samples (QA2).
const INSPECTORS: &[Role] = &[R::Qa, R::Admin];
/// Who assesses juniors, clerks and extractors (SO1, SO4).
const ASSESSORS: &[Role] = &[R::Senior, R::Admin];
/// Who reads samples and plays recordings: inspectors and assessing seniors.
const QA_READERS: &[Role] = &[R::Qa, R::Senior, R::Admin];
/// Whose work is scored, and who scores it: they read their own scores.
const SCORED_AND_SCORERS: &[Role] = &[
    R::Junior,
    R::Senior,
    R::TextEntry,
    R::RecordingExtractor,
    R::Qa,
    R::Admin,
];
/// Who works the satisfaction surveys (SS1-SS6).
const SURVEYORS: &[Role] = &[R::Surveyor, R::Admin];
const ANALYSIS_READERS: &[Role] = &[R::Surveyor, R::Senior, R::DataManager, R::Admin];

const fn roles(
    method: &'static str,
    roles: &'static [Role],
    refusal: &'static str,
    reqs: &'static str,
    row_rule: &'static str,
) -> Rule {
    Rule {
        method,
        access: Access::Roles(roles),
        refusal,
        reqs,
        row_rule,
    }
}

const fn action(
    method: &'static str,
    action: ActionKind,
    except: &'static [Role],
    refusal: &'static str,
    reqs: &'static str,
) -> Rule {
    Rule {
        method,
        access: Access::Workflow { action, except },
        refusal,
        reqs,
        row_rule: "the workflow table decides the action by the ticket's state; a reviewer may not review their own order",
    }
}

/// The matrix. One row per method; [`authorize`] refuses any method not listed.
pub const MATRIX: &[Rule] = &[
    // AgentService
    Rule {
        method: "hotline.v1.AgentService/Login",
        access: Access::Anonymous,
        refusal: "",
        reqs: "",
        row_rule: "",
    },
    roles(
        "hotline.v1.AgentService/Logout",
        ANY,
        "",
        "",
        "ends only the caller's own session",
    ),
    roles(
        "hotline.v1.AgentService/GetMe",
        ANY,
        "",
        "",
        "the caller's own record",
    ),
    roles(
        "hotline.v1.AgentService/SetPresence",
        STAFF,
        "presence is for people at a desk; the service account takes no calls",
        "JO2",
        "sets only the caller's own presence; the queue decides which roles may be available",
    ),
    roles(
        "hotline.v1.AgentService/CreateAgent",
        &[R::Admin],
        "only admins manage agents",
        "",
        "",
    ),
    roles(
        "hotline.v1.AgentService/ListAgents",
        STAFF_AND_SYSTEM,
        "",
        "JO2 PR1",
        "the IVR reads it to know whether an answering agent is logged in",
    ),
    roles(
        "hotline.v1.AgentService/StreamEvents",
        STAFF,
        "the event feed is for people at a desk; the call server has its JoinQueue stream",
        "SO8",
        "events are filtered by role; surveyors get tickets without the customer's contact number",
    ),
    // TicketService
    roles(
        "hotline.v1.TicketService/CreateTicket",
        REGISTER,
        "only roles that register reports (juniors, clerks, extractors, seniors, admins) and the IVR create tickets (JO3/TE1/TE2/RE1)",
        "JO3 TE1 TE2 RE1 SF1 SF4",
        "",
    ),
    roles(
        "hotline.v1.TicketService/GetTicket",
        STAFF_AND_SYSTEM,
        "",
        "JO9 SO8 SS2 DM3 QA2",
        "a surveyor sees the customer's contact number only on tickets with an open survey task (its worklist, SS2); the system account never sees it",
    ),
    roles(
        "hotline.v1.TicketService/ListTickets",
        STAFF_AND_SYSTEM,
        "",
        "JO9 SO8 DM3 QA2",
        "the system account lists only by faulty_number, at most 5, without contact numbers (the IVR's progress query, JO9); a surveyor sees contact numbers only on its worklist's tickets",
    ),
    roles(
        "hotline.v1.TicketService/GetTicketHistory",
        STAFF,
        "the audit trail is for staff; the IVR reads progress with ListTickets/GetTicket by number",
        "SO8 QA2",
        "",
    ),
    action(
        "hotline.v1.TicketService/DispatchTicket",
        ActionKind::Dispatch,
        &[],
        "only juniors, clerks, extractors, seniors and admins dispatch (JO3/SO1)",
        "JO3 JO7 SO1 SO2",
    ),
    action(
        "hotline.v1.TicketService/FollowUpTicket",
        ActionKind::FollowUp,
        &[],
        "only juniors, clerks, extractors, seniors and admins issue follow-up orders (JO4/SO3)",
        "JO4 JO6 SO3",
    ),
    action(
        "hotline.v1.TicketService/CancelTicket",
        ActionKind::Cancel,
        &[],
        "only juniors, clerks, extractors, seniors and admins issue cancellations (JO4/SO3)",
        "JO4 JO6 SO3",
    ),
    action(
        "hotline.v1.TicketService/EscalateTicket",
        ActionKind::Escalate,
        &[],
        "only juniors, clerks and extractors pass a report to a senior (JO3/TE4/RE1); seniors answer or dispatch it",
        "JO3 TE4 RE1",
    ),
    action(
        "hotline.v1.TicketService/AnswerTicket",
        ActionKind::Answer,
        &[],
        "only juniors, clerks, extractors, seniors and admins answer reports (JO3/SO1)",
        "JO3 JO6 JO9 SO1",
    ),
    action(
        "hotline.v1.TicketService/ReviewOrder",
        ActionKind::Review,
        &[],
        "only seniors and admins review orders (JO7/SO4)",
        "JO7 SO4 SO5",
    ),
    action(
        "hotline.v1.TicketService/MarkUrgent",
        ActionKind::MarkUrgent,
        &[],
        "only seniors and admins mark a report urgent (SO2)",
        "SO2",
    ),
    action(
        "hotline.v1.TicketService/AddNote",
        ActionKind::AddNote,
        &[],
        "only staff annotate tickets (JO3/SO8); the service account does not",
        "JO3 SO8",
    ),
    action(
        "hotline.v1.TicketService/TransferToManager",
        ActionKind::TransferToManager,
        &[],
        "only juniors, clerks, extractors, seniors and admins transfer to the manager hotline (JO5/SO6)",
        "JO5 SO6",
    ),
    action(
        "hotline.v1.TicketService/ClearTicket",
        ActionKind::Clear,
        &[R::System],
        "only seniors and admins record a clearance by hand (SF3); the 112 centre's clearance arrives on its signed HTTP callback, not from a gRPC account",
        "SF3 SS2",
    ),
    action(
        "hotline.v1.TicketService/CloseTicket",
        ActionKind::Close,
        &[],
        "only seniors, admins and surveyors close tickets (SO8/SS1)",
        "SO8 SS1",
    ),
    action(
        "hotline.v1.TicketService/SecondDispatch",
        ActionKind::SecondDispatch,
        &[],
        "only surveyors (for a senior's review) and seniors or admins issue a second dispatch (SS4/SO5)",
        "SS4 SO5",
    ),
    Rule {
        method: "hotline.v1.TicketService/ListTasks",
        access: Access::Tasks,
        refusal: "only roles with follow-up work list tasks: callbacks (juniors, seniors), surveys (surveyors), originals to file (data managers) (SO4/SS2/TE3)",
        reqs: "SO4 SS2 TE3 DM5",
        row_rule: "each role sees only the task kinds it works",
    },
    Rule {
        method: "hotline.v1.TicketService/CompleteTask",
        access: Access::Tasks,
        refusal: "only roles with follow-up work complete tasks: callbacks (juniors, seniors), surveys (surveyors), originals to file (data managers) (SO4/SS2/TE3)",
        reqs: "SO4 SS2 TE3 DM5",
        row_rule: "only a task of a kind the role works",
    },
    roles(
        "hotline.v1.TicketService/ListAlerts",
        STAFF,
        "deadline alerts are for staff (TE1/SO2/SS3); the service account gets none",
        "TE1 TE4 SO2 SS3",
        "",
    ),
    roles(
        "hotline.v1.TicketService/GetTimeRules",
        STAFF,
        "the time-limit table is shown to staff (JO1); the service account does not read it",
        "JO1",
        "",
    ),
    roles(
        "hotline.v1.TicketService/RunLineTest",
        DESK,
        "only juniors, clerks, extractors, seniors and admins order a manual line test while handling a report (SF5)",
        "SF5",
        "",
    ),
    roles(
        "hotline.v1.TicketService/GetCenterProgress",
        &[
            R::Junior,
            R::Senior,
            R::TextEntry,
            R::RecordingExtractor,
            R::Surveyor,
            R::Admin,
        ],
        "only the desk and surveyors query the 112 centre's progress (SF6/JO9/SS3); the IVR reads the stored status with GetTicket",
        "SF6 JO9 SS3",
        "",
    ),
    // VoicemailService
    roles(
        "hotline.v1.VoicemailService/CreateVoicemail",
        &[R::System, R::Admin],
        "only the IVR's service account (and admins) register recorded messages (SF9/PR1)",
        "SF9 PR1",
        "",
    ),
    roles(
        "hotline.v1.VoicemailService/ListVoicemails",
        EXTRACTORS_AND_QA,
        "only recording extractors, seniors, admins and quality inspectors see voicemail (RE1/QA2)",
        "RE1 QA2",
        "",
    ),
    roles(
        "hotline.v1.VoicemailService/ClaimVoicemail",
        EXTRACTORS,
        "only recording extractors, seniors and admins work voicemail (RE1)",
        "RE1",
        "one agent per message: a claimed message cannot be claimed again",
    ),
    roles(
        "hotline.v1.VoicemailService/FetchVoicemailAudio",
        EXTRACTORS_AND_QA,
        "only recording extractors, seniors, admins and quality inspectors replay voicemail (RE1/QA2)",
        "RE1 QA2 PR4",
        "a recording extractor replays only a message it claimed",
    ),
    roles(
        "hotline.v1.VoicemailService/ConvertVoicemail",
        EXTRACTORS,
        "only recording extractors, seniors and admins turn voicemail into tickets (RE1)",
        "RE1",
        "only the agent holding the claim converts the message",
    ),
    roles(
        "hotline.v1.VoicemailService/EscalateVoicemail",
        EXTRACTORS,
        "only recording extractors, seniors and admins pass voicemail to a senior (RE1)",
        "RE1",
        "only the agent holding the claim escalates the message",
    ),
    // IntakeService (text intake TE1-TE4, archive TE3/DM5)
    roles(
        "hotline.v1.IntakeService/UploadDocument",
        INTAKE_CLERKS,
        "only text-entry clerks, seniors and admins register documents (TE1)",
        "TE1 TE5",
        "",
    ),
    roles(
        "hotline.v1.IntakeService/ImportMail",
        &[R::TextEntry, R::Admin],
        "only text-entry clerks and admins import e-mail (TE1)",
        "TE1",
        "",
    ),
    roles(
        "hotline.v1.IntakeService/ListInbox",
        INTAKE_CLERKS,
        "the intake inbox is the text-entry clerks' and seniors' (TE1/TE4)",
        "TE1 TE4",
        "clerks see unentered documents, seniors those passed to seniors, admins both",
    ),
    roles(
        "hotline.v1.IntakeService/EnterDocument",
        INTAKE_CLERKS,
        "only text-entry clerks, seniors and admins enter documents as tickets (TE1)",
        "TE1 TE4",
        "a document passed to a senior is entered by a senior (or admin)",
    ),
    roles(
        "hotline.v1.IntakeService/PassToSenior",
        &[R::TextEntry, R::Admin],
        "only text-entry clerks (and admins) pass documents to seniors (TE4)",
        "TE4",
        "only an unentered document is passed",
    ),
    roles(
        "hotline.v1.IntakeService/RegisterWalkIn",
        INTAKE_CLERKS,
        "walk-in reports are entered by text-entry clerks, seniors and admins (TE2)",
        "TE2",
        "",
    ),
    roles(
        "hotline.v1.IntakeService/ArchiveDocument",
        &[R::DataManager, R::Admin],
        "only the data manager (and admins) file originals (TE3/DM5)",
        "TE3 DM5",
        "only an entered document is filed",
    ),
    roles(
        "hotline.v1.IntakeService/SearchArchive",
        ARCHIVE_READERS,
        "the archive of originals is for the data manager, clerks, seniors, quality inspectors and admins (DM5)",
        "DM5 TE3",
        "",
    ),
    roles(
        "hotline.v1.IntakeService/GetDocument",
        ARCHIVE_READERS,
        "documents are for the data manager, clerks, seniors, quality inspectors and admins (DM5)",
        "DM5 TE1",
        "",
    ),
    roles(
        "hotline.v1.IntakeService/DownloadDocument",
        ARCHIVE_READERS,
        "originals are fetched by the data manager, clerks, seniors, quality inspectors and admins (DM5)",
        "DM5 TE3",
        "the bytes are verified against their SHA-256 before any is sent",
    ),
    // QueueService
    roles(
        "hotline.v1.QueueService/JoinQueue",
        CALL_SERVER,
        "only the call server's service account (system) queues callers (JO2/PR1)",
        "JO2 JO8 PR1",
        "",
    ),
    roles(
        "hotline.v1.QueueService/ReportOffer",
        CALL_SERVER,
        "only the call server's service account (system) reports what an offered ring did (JO2/PR1)",
        "JO2 PR1",
        "",
    ),
    roles(
        "hotline.v1.QueueService/EndCall",
        CALL_SERVER,
        "only the call server's service account (system) ends queued calls (JO2/PR1)",
        "JO2 PR1",
        "",
    ),
    roles(
        "hotline.v1.QueueService/GetQueueMetrics",
        STAFF,
        "queue metrics are for staff (JO2, SF11); the call server does not read them",
        "JO2 SF11",
        "",
    ),
    roles(
        "hotline.v1.QueueService/ListQueue",
        STAFF,
        "the live queue is for staff (JO2); the call server has its own calls' streams",
        "JO2",
        "",
    ),
    // ReportService
    roles(
        "hotline.v1.ReportService/GetReport",
        REPORTERS,
        "reports are for those who run the centre: seniors, the data manager and admins (SF11, DM3, SS5)",
        "SF11 DM3 SS5",
        "",
    ),
    roles(
        "hotline.v1.ReportService/ExportReport",
        REPORTERS,
        "report exports are for those who run the centre: seniors, the data manager and admins (SF11, DM3, SS5)",
        "SF11 DM3 SS5",
        "",
    ),
    roles(
        "hotline.v1.ReportService/GetOverview",
        REPORTERS,
        "the morning overview is for seniors, the data manager and admins (SO8)",
        "SO8",
        "",
    ),
    roles(
        "hotline.v1.ReportService/ListScheduledReports",
        REPORTERS,
        "the scheduled daily and monthly reports are for seniors, the data manager and admins (SF11, SS5)",
        "SF11 SS5",
        "",
    ),
    roles(
        "hotline.v1.ReportService/GetScheduledReport",
        REPORTERS,
        "the scheduled daily and monthly reports are for seniors, the data manager and admins (SF11, SS5)",
        "SF11 SS5",
        "",
    ),
    roles(
        "hotline.v1.ReportService/RestampBranches",
        ADMINS,
        "only an admin restamps every ticket's branch after the branch map changed (SF11)",
        "SF11",
        "",
    ),
    // KnowledgeService
    roles(
        "hotline.v1.KnowledgeService/CreateArticle",
        KB_KEEPERS,
        "only the data manager (and admins) write knowledge-base articles (DM1/DM2); seniors submit cases with SubmitCase",
        "DM1 DM2",
        "",
    ),
    roles(
        "hotline.v1.KnowledgeService/SubmitCase",
        KB_SUBMITTERS,
        "only seniors (and the data manager, admins) submit difficult cases to the knowledge base (SO7)",
        "SO7 DM1",
        "the case is linked to an existing ticket and starts in review",
    ),
    roles(
        "hotline.v1.KnowledgeService/EditArticle",
        KB_KEEPERS,
        "only the data manager (and admins) edit knowledge-base articles (DM2)",
        "DM2",
        "refused unless expected_version is the article's current version; retired articles are reopened first",
    ),
    roles(
        "hotline.v1.KnowledgeService/ChangeArticleState",
        KB_KEEPERS,
        "only the data manager (and admins) review, publish and retire articles (DM1/DM2)",
        "DM1 DM2",
        "the article's state decides the action (draft → in_review → published → retired)",
    ),
    roles(
        "hotline.v1.KnowledgeService/GetArticle",
        STAFF,
        "the IVR's service account does not read the knowledge base",
        "DM6 SO7",
        "others than the data manager and admins see published articles and the cases they submitted",
    ),
    roles(
        "hotline.v1.KnowledgeService/DiffArticle",
        KB_KEEPERS,
        "only the data manager (and admins) compare article versions (DM2)",
        "DM2",
        "",
    ),
    roles(
        "hotline.v1.KnowledgeService/ListArticles",
        STAFF,
        "the IVR's service account does not read the knowledge base",
        "DM6",
        "others than the data manager and admins list published articles only",
    ),
    roles(
        "hotline.v1.KnowledgeService/SearchArticles",
        STAFF,
        "the IVR's service account does not search the knowledge base",
        "DM6",
        "include_unpublished is honoured for the data manager and admins only",
    ),
    roles(
        "hotline.v1.KnowledgeService/SuggestArticles",
        STAFF,
        "the IVR's service account does not search the knowledge base",
        "DM6",
        "published articles only",
    ),
    roles(
        "hotline.v1.KnowledgeService/TagTicket",
        KB_KEEPERS,
        "only the data manager (and admins) classify reports and survey results (DM3/DM4)",
        "DM3 DM4",
        "",
    ),
    roles(
        "hotline.v1.KnowledgeService/CountByTag",
        TAG_READERS,
        "only the data manager, quality inspectors and admins query classification counts (DM3/DM4)",
        "DM3 DM4",
        "",
    ),
    // QualityService
    roles(
        "hotline.v1.QualityService/DrawSamples",
        INSPECTORS,
        "only quality inspectors (and admins) draw samples (QA2); seniors open assessments with OpenAssessment",
        "QA2",
        "a ticket is never sampled twice in one period; the seed is stored",
    ),
    roles(
        "hotline.v1.QualityService/OpenAssessment",
        ASSESSORS,
        "only seniors (and admins) assess the juniors, clerks and extractors whose work they reviewed (SO1/SO4)",
        "SO1 SO4",
        "the person is a junior, clerk or extractor; the senior reviewed their order on the ticket or acted on it after they escalated it; never one's own work",
    ),
    roles(
        "hotline.v1.QualityService/ListSamples",
        QA_READERS,
        "only quality inspectors, seniors and admins see samples (QA2: random samples are unannounced to agents)",
        "QA2 SO4",
        "seniors see only the assessments they opened",
    ),
    roles(
        "hotline.v1.QualityService/GetSample",
        QA_READERS,
        "only quality inspectors, seniors and admins see samples (QA2)",
        "QA2 SO4",
        "seniors see only the assessments they opened",
    ),
    roles(
        "hotline.v1.QualityService/ScoreSample",
        &[R::Qa, R::Senior, R::Admin],
        "only quality inspectors (and admins) score samples, and seniors their assessments (QA2, SO4)",
        "QA2 SO1 SO4",
        "QA scores scheduled and random samples, a senior only the assessments they opened; nobody scores their own work; a re-score needs rescore_reason and is for QA or admins",
    ),
    roles(
        "hotline.v1.QualityService/GetForm",
        SCORED_AND_SCORERS,
        "only the people who are scored, and who score, read the scoring form (QA2)",
        "QA2",
        "",
    ),
    roles(
        "hotline.v1.QualityService/ListScores",
        SCORED_AND_SCORERS,
        "only the people who are scored, and who score, read QA scores (QA2)",
        "QA2 SO4",
        "juniors, clerks and extractors read only their own scores; QA, seniors and admins anyone's",
    ),
    roles(
        "hotline.v1.QualityService/PersonSummary",
        SCORED_AND_SCORERS,
        "only the people who are scored, and who score, read a person's record (SO1/SO4)",
        "SO1 SO4",
        "juniors, clerks and extractors read only their own summary",
    ),
    roles(
        "hotline.v1.QualityService/UploadRecording",
        CALL_SERVER,
        "only the call server's service account uploads call recordings (QA1)",
        "QA1",
        "one recording per Call-ID; the bytes must be a whole WAV",
    ),
    roles(
        "hotline.v1.QualityService/PlayRecording",
        QA_READERS,
        "only quality inspectors, seniors and admins play call recordings (QA1)",
        "QA1 SO4",
        "by sample id: the sample's visibility rule applies",
    ),
    // SurveyService
    roles(
        "hotline.v1.SurveyService/ListSurveyWork",
        SURVEYORS,
        "only the satisfaction surveyor (and admins) work the survey lists: callbacks after a clearance or an answer, orders to warn or urge, repeat reports to investigate (SS1-SS4)",
        "SS1 SS2 SS3 SS4",
        "each entry shows the number to call (contact number, else the faulty number)",
    ),
    roles(
        "hotline.v1.SurveyService/RecordCallback",
        SURVEYORS,
        "only the satisfaction surveyor (and admins) record callback surveys (SS2/SS5/SS6)",
        "SS1 SS2 SS5 SS6",
        "once per survey; attempts only in calling hours, at most max_attempts; customer information only with consent",
    ),
    roles(
        "hotline.v1.SurveyService/Investigate",
        SURVEYORS,
        "only the satisfaction surveyor (and admins) investigate repeat reports on finished orders (SS4); a senior reviews the second dispatch with ReviewOrder (SO5)",
        "SS4 SO5",
        "finished tickets only (cleared, closed, answered); a second dispatch follows the workflow table",
    ),
    roles(
        "hotline.v1.SurveyService/GetSurveyStats",
        SURVEYORS,
        "only the satisfaction surveyor (and admins) read the survey statistics here; seniors and the data manager read them in ReportService (SS5)",
        "SS5 SO5",
        "",
    ),
    roles(
        "hotline.v1.SurveyService/ListAnalyses",
        ANALYSIS_READERS,
        "the surveyor writes the SS5 analyses; seniors and the data manager read them to act on the weak points",
        "SS5",
        "",
    ),
    roles(
        "hotline.v1.SurveyService/GetAnalysis",
        ANALYSIS_READERS,
        "the surveyor writes the SS5 analyses; seniors and the data manager read them to act on the weak points",
        "SS5",
        "",
    ),
    roles(
        "hotline.v1.SurveyService/PublishAnalysis",
        SURVEYORS,
        "only the satisfaction surveyor (and admins) publish the weekly statistics and the monthly analysis (SS5)",
        "SS5",
        "once per analysis; the monthly one is due before the 21st",
    ),
    roles(
        "hotline.v1.SurveyService/ClaimOutboundSurvey",
        CALL_SERVER,
        "only the call server's service account (system) places the automated survey calls",
        "SS2 SS5",
        "returns the one number to dial for the claimed survey (the only contact number the system account sees); once per number per Beijing day, never a do-not-call number, only in calling hours",
    ),
    roles(
        "hotline.v1.SurveyService/FinishOutboundSurvey",
        CALL_SERVER,
        "only the call server's service account (system) reports how an automated survey call ended",
        "SS2 SS5",
        "once per claim; the attempt follows the same rules as a surveyor's",
    ),
    roles(
        "hotline.v1.SurveyService/AddDoNotCall",
        DNC_KEEPERS,
        "only the surveyor, the data manager and admins keep the do-not-call list",
        "SS2",
        "",
    ),
    roles(
        "hotline.v1.SurveyService/RemoveDoNotCall",
        DNC_KEEPERS,
        "only the surveyor, the data manager and admins keep the do-not-call list",
        "SS2",
        "",
    ),
    roles(
        "hotline.v1.SurveyService/ListDoNotCall",
        DNC_KEEPERS,
        "only the surveyor, the data manager and admins keep the do-not-call list",
        "SS2",
        "",
    ),
];

impl Rule {
    /// Whether an authenticated caller of `role` may call this method.
    pub fn allows(&self, role: Role) -> bool {
        match self.access {
            Access::Anonymous => true,
            Access::Roles(roles) => roles.contains(&role),
            Access::Workflow { action, except } => {
                !except.contains(&role)
                    && workflow::TABLE
                        .iter()
                        .any(|r| r.action == action && r.roles.contains(&role))
            }
            Access::Tasks => TaskKind::ALL.into_iter().any(|k| k.worked_by(role)),
        }
    }

    /// The roles allowed, in [`Role::ALL`] order.
    pub fn roles(&self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.allows(*r)).collect()
    }

    /// `(service, method)`: `("hotline.v1.TicketService", "CreateTicket")`.
    pub fn split(&self) -> (&'static str, &'static str) {
        self.method.split_once('/').unwrap_or((self.method, ""))
    }
}

/// The row of a method, by its gRPC path with or without the leading `/`.
pub fn rule(path: &str) -> Option<&'static Rule> {
    let m = path.strip_prefix('/').unwrap_or(path);
    MATRIX.iter().find(|r| r.method == m)
}

/// What a request path needs before a handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Health and reflection.
    Public,
    /// `Login`.
    Anonymous,
    /// A token of a role the row allows.
    Authenticated(&'static Rule),
    /// Not in the matrix: refused for everyone.
    Unknown,
}

/// The gate of a request path (`/hotline.v1.TicketService/CreateTicket`).
pub fn gate(path: &str) -> Gate {
    let m = path.strip_prefix('/').unwrap_or(path);
    let service = m.split_once('/').map_or(m, |(s, _)| s);
    if PUBLIC_SERVICES.contains(&service) {
        return Gate::Public;
    }
    match rule(m) {
        Some(r) if r.access == Access::Anonymous => Gate::Anonymous,
        Some(r) => Gate::Authenticated(r),
        None => Gate::Unknown,
    }
}

/// Why a call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("{method}: {reason} (the {role} role, {label}, may not call it)", role = .role.as_str(), label = .role.label_zh())]
    Role {
        role: Role,
        method: &'static str,
        reason: &'static str,
    },
    #[error("{0} is not in the permission matrix; refused for every role")]
    NotInMatrix(String),
}

/// Decides whether an authenticated `role` may call the method at `path`.
pub fn authorize(role: Role, path: &str) -> Result<(), Denied> {
    match gate(path) {
        Gate::Public | Gate::Anonymous => Ok(()),
        Gate::Authenticated(r) if r.allows(role) => Ok(()),
        Gate::Authenticated(r) => Err(Denied::Role {
            role,
            method: r.method,
            reason: r.refusal,
        }),
        Gate::Unknown => Err(Denied::NotInMatrix(
            path.strip_prefix('/').unwrap_or(path).to_string(),
        )),
    }
}

/// `docs/permissions.md`: the matrix as a role × method table, then the reasons and row rules.
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Permission matrix (权限矩阵)\n\n");
    out.push_str(
        "Generated from `hotline_domain::permissions::MATRIX` by `render_markdown`; do not edit by \
         hand. `HOTLINE_BLESS=1 cargo test -p hotline-domain permissions` rewrites it, and that \
         test fails when this file and the table differ.\n\n",
    );
    out.push_str(
        "The core checks this table once per call, after the bearer token is resolved and before \
         any handler runs (`hotline-core/src/authorize.rs`). A refused call gets \
         `PERMISSION_DENIED` with the reason below; a method missing from the table is refused \
         for every role. Health (`grpc.health.v1.Health`) and reflection \
         (`grpc.reflection.v1.ServerReflection`, `v1alpha`) need no token; `Login` needs none.\n\n",
    );
    out.push_str(
        "Workflow methods are open to the roles that have a row for the action in \
         `hotline_domain::workflow::TABLE`, which still decides each action by the ticket's \
         state. Task methods are open to the roles that work some task kind \
         (`TaskKind::worked_by`).\n\n",
    );
    out.push_str("| Method |");
    for r in Role::ALL {
        out.push_str(&format!(" {}<br>`{}` |", r.label_zh(), r.as_str()));
    }
    out.push('\n');
    out.push_str("|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    out.push('\n');
    for rule in MATRIX {
        let (service, method) = rule.split();
        let service = service.strip_prefix("hotline.v1.").unwrap_or(service);
        out.push_str(&format!("| {service}/{method} |"));
        for r in Role::ALL {
            let cell = match rule.access {
                Access::Anonymous => "any",
                _ if rule.allows(r) => "✓",
                _ => "—",
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out.push_str("\n## Reasons and row rules\n\n");
    out.push_str("| Method | Who | Refused because | Rule on rows/fields | Requirements |\n");
    out.push_str("|---|---|---|---|---|\n");
    for rule in MATRIX {
        let (service, method) = rule.split();
        let service = service.strip_prefix("hotline.v1.").unwrap_or(service);
        let who = match rule.access {
            Access::Anonymous => "anyone, no token".to_string(),
            Access::Roles(_) => role_list(&rule.roles()),
            Access::Workflow { action, except } => {
                let mut s = format!(
                    "{} (workflow `{}` {})",
                    role_list(&rule.roles()),
                    action.as_str(),
                    action.label_zh()
                );
                if !except.is_empty() {
                    s.push_str(&format!(
                        "; not {} over gRPC",
                        except
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                s
            }
            Access::Tasks => format!("{} (task kinds)", role_list(&rule.roles())),
        };
        let refusal = if rule.refusal.is_empty() {
            "never refused"
        } else {
            rule.refusal
        };
        out.push_str(&format!(
            "| {service}/{method} | {who} | {refusal} | {} | {} |\n",
            rule.row_rule, rule.reqs
        ));
    }
    out
}

fn role_list(roles: &[Role]) -> String {
    if roles.len() == Role::ALL.len() {
        return "every role".into();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const VOICEMAIL_WORK: &[&str] = &[
        "hotline.v1.VoicemailService/ListVoicemails",
        "hotline.v1.VoicemailService/ClaimVoicemail",
        "hotline.v1.VoicemailService/FetchVoicemailAudio",
        "hotline.v1.VoicemailService/ConvertVoicemail",
        "hotline.v1.VoicemailService/EscalateVoicemail",
    ];

    fn allowed(role: Role) -> HashSet<&'static str> {
        MATRIX
            .iter()
            .filter(|r| r.access != Access::Anonymous && r.allows(role))
            .map(|r| r.method)
            .collect()
    }

    #[test]
    fn one_row_per_method_and_a_reason_wherever_someone_is_refused() {
        let mut seen = HashSet::new();
        for r in MATRIX {
            assert!(seen.insert(r.method), "{} twice", r.method);
            let (service, method) = r.split();
            assert!(
                service.starts_with("hotline.v1.") && !method.is_empty(),
                "{}",
                r.method
            );
            let refused = r.access != Access::Anonymous && r.roles().len() < Role::ALL.len();
            assert_eq!(refused, !r.refusal.is_empty(), "{}", r.method);
            assert!(
                r.access == Access::Anonymous || !r.roles().is_empty(),
                "{}",
                r.method
            );
        }
    }

    #[test]
    fn re1_an_extractor_works_voicemail_but_does_not_review_orders() {
        let x = allowed(Role::RecordingExtractor);
        for m in VOICEMAIL_WORK {
            assert!(x.contains(m), "{m}");
        }
        assert!(!x.contains("hotline.v1.TicketService/ReviewOrder"));
        let e = authorize(
            Role::RecordingExtractor,
            "/hotline.v1.TicketService/ReviewOrder",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("only seniors and admins review orders (JO7/SO4)"),
            "{e}"
        );
        assert!(e.to_string().contains("录音提取员"), "{e}");
        // a junior neither works voicemail nor reviews
        let j = allowed(Role::Junior);
        assert!(VOICEMAIL_WORK.iter().all(|m| !j.contains(m)));
    }

    #[test]
    fn pr1_the_service_account_registers_reports_queues_calls_uploads_recordings_places_survey_calls_and_nothing_else()
     {
        let expected: HashSet<&str> = [
            "hotline.v1.AgentService/Logout",
            "hotline.v1.AgentService/GetMe",
            "hotline.v1.AgentService/ListAgents",
            "hotline.v1.TicketService/CreateTicket",
            "hotline.v1.TicketService/GetTicket",
            "hotline.v1.TicketService/ListTickets",
            "hotline.v1.VoicemailService/CreateVoicemail",
            "hotline.v1.QueueService/JoinQueue",
            "hotline.v1.QueueService/ReportOffer",
            "hotline.v1.QueueService/EndCall",
            // the call server uploads its recordings (QA1)
            "hotline.v1.QualityService/UploadRecording",
            // and places the automated survey calls
            "hotline.v1.SurveyService/ClaimOutboundSurvey",
            "hotline.v1.SurveyService/FinishOutboundSurvey",
        ]
        .into();
        assert_eq!(allowed(Role::System), expected);
        // the workflow table lets `system` clear (the 112 adapter inside the core), gRPC does not
        assert!(
            workflow::TABLE
                .iter()
                .any(|r| r.action == ActionKind::Clear && r.roles.contains(&Role::System))
        );
        assert!(authorize(Role::System, "/hotline.v1.TicketService/ClearTicket").is_err());
    }

    #[test]
    fn only_admins_manage_agents_and_only_the_call_server_queues_calls() {
        assert_eq!(
            rule("hotline.v1.AgentService/CreateAgent").unwrap().roles(),
            vec![Role::Admin]
        );
        for m in ["JoinQueue", "ReportOffer", "EndCall"] {
            let r = rule(&format!("hotline.v1.QueueService/{m}")).unwrap();
            assert_eq!(r.roles(), vec![Role::System], "{m}");
        }
    }

    #[test]
    fn workflow_rows_follow_the_workflow_table() {
        for r in MATRIX {
            let Access::Workflow { action, except } = r.access else {
                continue;
            };
            let from_table: Vec<Role> = Role::ALL
                .into_iter()
                .filter(|role| !except.contains(role))
                .filter(|role| {
                    workflow::TABLE
                        .iter()
                        .any(|row| row.action == action && row.roles.contains(role))
                })
                .collect();
            assert_eq!(r.roles(), from_table, "{}", r.method);
        }
        // every workflow action has its RPC
        let actions: HashSet<ActionKind> = MATRIX
            .iter()
            .filter_map(|r| match r.access {
                Access::Workflow { action, .. } => Some(action),
                _ => None,
            })
            .collect();
        for row in workflow::TABLE {
            assert!(actions.contains(&row.action), "{:?}", row.action);
        }
        assert_eq!(
            rule("hotline.v1.TicketService/ReviewOrder")
                .unwrap()
                .roles(),
            vec![Role::Senior, Role::Admin]
        );
    }

    #[test]
    fn ss1_survey_service_is_the_surveyors_and_admins_only() {
        let readers =
            ["ListAnalyses", "GetAnalysis"].map(|m| format!("hotline.v1.SurveyService/{m}"));
        let campaign = ["ClaimOutboundSurvey", "FinishOutboundSurvey"]
            .map(|m| format!("hotline.v1.SurveyService/{m}"));
        let dnc = ["AddDoNotCall", "RemoveDoNotCall", "ListDoNotCall"]
            .map(|m| format!("hotline.v1.SurveyService/{m}"));
        let survey: Vec<&Rule> = MATRIX
            .iter()
            .filter(|r| r.method.starts_with("hotline.v1.SurveyService/"))
            .filter(|r| {
                !readers
                    .iter()
                    .chain(&campaign)
                    .chain(&dnc)
                    .any(|m| m == r.method)
            })
            .collect();
        // the automated calls are the call server's; the do-not-call list its keepers'
        for m in &campaign {
            assert_eq!(rule(m).unwrap().roles(), vec![Role::System], "{m}");
            assert!(authorize(Role::Surveyor, &format!("/{m}")).is_err());
        }
        for m in &dnc {
            assert_eq!(
                rule(m).unwrap().roles(),
                vec![Role::Surveyor, Role::DataManager, Role::Admin],
                "{m}"
            );
            assert!(authorize(Role::System, &format!("/{m}")).is_err());
        }
        assert_eq!(survey.len(), 5);
        for r in survey {
            assert_eq!(r.roles(), vec![Role::Surveyor, Role::Admin], "{}", r.method);
            let e = authorize(Role::Junior, &format!("/{}", r.method)).unwrap_err();
            assert!(e.to_string().contains("satisfaction surveyor"), "{e}");
        }
        // SS5: seniors and the data manager read the analyses, and only read them
        for m in &readers {
            let r = rule(m).unwrap();
            assert_eq!(
                r.roles(),
                vec![Role::Senior, Role::Surveyor, Role::DataManager, Role::Admin],
                "{m}"
            );
            assert!(authorize(Role::Junior, &format!("/{m}")).is_err());
        }
    }

    #[test]
    fn tasks_follow_the_task_kinds() {
        let r = rule("hotline.v1.TicketService/ListTasks").unwrap();
        for role in Role::ALL {
            assert_eq!(
                r.allows(role),
                !TaskKind::for_role(role).is_empty(),
                "{role:?}"
            );
        }
    }

    #[test]
    fn unknown_methods_are_refused_and_public_services_need_nothing() {
        for role in Role::ALL {
            let e = authorize(role, "/hotline.v1.TicketService/DeleteEverything").unwrap_err();
            assert_eq!(
                e,
                Denied::NotInMatrix("hotline.v1.TicketService/DeleteEverything".into())
            );
            assert!(authorize(role, "/grpc.health.v1.Health/Check").is_ok());
        }
        assert_eq!(gate("/grpc.health.v1.Health/Watch"), Gate::Public);
        assert_eq!(gate("/hotline.v1.AgentService/Login"), Gate::Anonymous);
        assert_eq!(gate("/grpc.health.v1.Healthy/Check"), Gate::Unknown);
        assert_eq!(gate("/"), Gate::Unknown);
    }

    /// `docs/permissions.md` is this table; `HOTLINE_BLESS=1` rewrites it.
    #[test]
    fn permissions_doc_is_the_rendered_matrix() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/permissions.md");
        let want = render_markdown();
        if std::env::var_os("HOTLINE_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write docs/permissions.md");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/permissions.md differs from permissions::render_markdown(); run \
             `HOTLINE_BLESS=1 cargo test -p hotline-domain permissions` and commit the file"
        );
    }
}
