//! The report model: a report is sections of rows; each section carries its definition (口径)
//! in Chinese, so an exported file says how each figure was counted.

use crate::period::{Period, format_beijing};
use serde::Serialize;

/// How a column's values are shown (CSV text and the XLSX number format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    /// A count.
    Int,
    /// A ratio 0..1 shown as a percentage with two decimals.
    Percent,
    /// A number with one decimal.
    Decimal,
    /// An instant shown as `YYYY-MM-DD HH:MM` Beijing time.
    Time,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    pub header: String,
    pub format: Format,
}

pub fn col(header: &str, format: Format) -> Column {
    Column {
        header: header.to_string(),
        format,
    }
}

/// One value. `Empty` is a figure with no denominator (a rate of nothing).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    /// ms since the epoch.
    Time(i64),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    pub fn opt(v: Option<f64>) -> Cell {
        v.map(Cell::Num).unwrap_or(Cell::Empty)
    }
    pub fn ratio(num: u64, den: u64) -> Cell {
        if den == 0 {
            Cell::Empty
        } else {
            Cell::Num(num as f64 / den as f64)
        }
    }
    pub fn count(n: u64) -> Cell {
        Cell::Int(n as i64)
    }

    /// The value as text under `format` (CSV; deterministic).
    pub fn render(&self, format: Format) -> String {
        match (self, format) {
            (Cell::Empty, _) => String::new(),
            (Cell::Text(s), _) => s.clone(),
            (Cell::Int(n), Format::Percent) => format!("{:.2}%", *n as f64 * 100.0),
            (Cell::Int(n), _) => n.to_string(),
            (Cell::Num(x), Format::Percent) => format!("{:.2}%", x * 100.0),
            (Cell::Num(x), Format::Int) => format!("{x:.0}"),
            (Cell::Num(x), _) => format!("{x:.1}"),
            (Cell::Time(t), _) => format_beijing(*t),
        }
    }
}

/// A row; `filter` and `ticket_ids` say which tickets are behind it (SO8's links).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub cells: Vec<Cell>,
    /// A ticket filter (`key=value&...`) that lists the tickets behind the row's figure.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// The first tickets behind it (at most [`MAX_LINKED`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ticket_ids: Vec<i64>,
}

/// Most ticket ids a row carries.
pub const MAX_LINKED: usize = 200;

impl Row {
    pub fn new(cells: Vec<Cell>) -> Row {
        Row {
            cells,
            filter: String::new(),
            ticket_ids: Vec::new(),
        }
    }
    pub fn linked(cells: Vec<Cell>, filter: String, mut ids: Vec<i64>) -> Row {
        ids.truncate(MAX_LINKED);
        Row {
            cells,
            filter,
            ticket_ids: ids,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    /// Stable id (`tickets_by_fault`), used for sheet order and `--section`.
    pub id: String,
    /// Chinese title (the XLSX sheet name).
    pub title: String,
    /// How the figures were counted (口径), Chinese.
    pub definition: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

impl Section {
    pub fn new(id: &str, title: &str, definition: &str, columns: Vec<Column>) -> Section {
        Section {
            id: id.to_string(),
            title: title.to_string(),
            definition: definition.to_string(),
            columns,
            rows: Vec::new(),
        }
    }
    pub fn push(&mut self, cells: Vec<Cell>) {
        self.rows.push(Row::new(cells));
    }
}

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Tickets by fault type, channel, customer class; repeats (DM3).
    Tickets,
    /// On-time repair against the time-limit table, late orders (SS3, SS5).
    Repair,
    /// 15-second rate, ASA, abandons per interval, day and agent; staffing advice (JO2).
    Queue,
    /// SO2, TE1, TE4 deadlines; alerts and breaches per rule.
    Deadlines,
    /// Satisfaction and QA scores (SS2).
    Quality,
    /// Every section above (the daily and monthly reports, SF11, SS5).
    Full,
    /// SO8: the morning overview.
    Overview,
}

impl ReportKind {
    pub const ALL: [ReportKind; 7] = [
        ReportKind::Tickets,
        ReportKind::Repair,
        ReportKind::Queue,
        ReportKind::Deadlines,
        ReportKind::Quality,
        ReportKind::Full,
        ReportKind::Overview,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Tickets => "tickets",
            ReportKind::Repair => "repair",
            ReportKind::Queue => "queue",
            ReportKind::Deadlines => "deadlines",
            ReportKind::Quality => "quality",
            ReportKind::Full => "full",
            ReportKind::Overview => "overview",
        }
    }
    pub fn parse(s: &str) -> Option<ReportKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn title_zh(self) -> &'static str {
        match self {
            ReportKind::Tickets => "申告分类统计",
            ReportKind::Repair => "修复及时率",
            ReportKind::Queue => "话务统计",
            ReportKind::Deadlines => "时限与告警",
            ReportKind::Quality => "满意度与质检",
            ReportKind::Full => "综合报表",
            ReportKind::Overview => "值班概览",
        }
    }
    /// Whether the report has `section` (by the kinds that make up `Full`).
    pub fn includes(self, part: ReportKind) -> bool {
        self == part || (self == ReportKind::Full && part != ReportKind::Overview)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub kind: ReportKind,
    /// `None`: every branch.
    pub branch: Option<String>,
    pub period: Period,
    pub sections: Vec<Section>,
}

impl Report {
    /// `综合报表 · 朝阳分公司 · 2026-11-01 至 2026-11-30（北京时间）`.
    pub fn title(&self) -> String {
        format!(
            "{} · {} · {}",
            self.kind.title_zh(),
            self.branch.as_deref().unwrap_or("全部分公司"),
            self.period.label()
        )
    }

    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }
}
