//! The customer directory (JO8, issue 19): a customer with its lines, class, branch, contact
//! people and SLA notes, validated here before anything is stored, and the plan of an import
//! file as a whole (which rows are taken, which are refused and why, naming both rows when
//! two customers claim one number).
//!
//! The rows come from a decoded CSV or XLSX sheet (header row first); this module knows the
//! column names, in Chinese and English, and nothing of the file format.

use std::collections::HashMap;

use crate::phone::PhoneNumber;
use crate::ticket::{CustomerClass, MAX_NAME_CHARS, ValidationError};

/// Longest customer code (客户编码).
pub const MAX_CODE_CHARS: usize = 32;
/// Lines one customer may own in one row.
pub const MAX_NUMBERS: usize = 1000;
pub const MAX_CONTACTS: usize = 20;
pub const MAX_SLA_CHARS: usize = 500;

/// A contact person of a customer (联系人).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub phone: Option<PhoneNumber>,
}

/// A customer as typed or imported, before validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewCustomer {
    pub code: String,
    pub name: String,
    pub class: String,
    pub branch: String,
    /// Separated by `;`, `；`, `,`, `，`, `、`, tabs or line breaks (a space is part of a
    /// number as people type it: `020 8888 0001`).
    pub numbers: String,
    /// `name:phone` pairs separated like the numbers (`张三:13800000000;李四`).
    pub contacts: String,
    pub sla_note: String,
}

/// A customer that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidCustomer {
    pub code: String,
    pub name: String,
    pub class: CustomerClass,
    pub branch: String,
    /// Distinct, in the order given.
    pub numbers: Vec<PhoneNumber>,
    pub contacts: Vec<Contact>,
    pub sla_note: String,
}

impl ValidCustomer {
    /// The customer as a ticket carries it (name, class, branch).
    pub fn ticket_customer(&self) -> crate::ticket::Customer {
        crate::ticket::Customer {
            name: self.name.clone(),
            class: self.class,
            branch: self.branch.clone(),
        }
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split([';', '；', ',', '，', '、', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

/// A class as written in a directory: its wire name or its Chinese label, plus the common
/// spellings 大客户 and 专线.
pub fn parse_class(s: &str) -> Option<CustomerClass> {
    let s = s.trim();
    if s.is_empty() {
        return Some(CustomerClass::Ordinary);
    }
    if let Some(c) = CustomerClass::parse(&s.to_ascii_lowercase()) {
        return Some(c);
    }
    if let Some(c) = CustomerClass::ALL.into_iter().find(|c| c.label_zh() == s) {
        return Some(c);
    }
    match s {
        "普通" | "普通客户" => Some(CustomerClass::Ordinary),
        "大客户" | "大用户" => Some(CustomerClass::Big),
        "重要" | "重要客户" => Some(CustomerClass::Important),
        "专线" | "专线客户" => Some(CustomerClass::LeasedLine),
        "VIP客户" | "vip客户" | "贵宾" | "贵宾客户" => Some(CustomerClass::Vip),
        _ => None,
    }
}

fn bounded(field: &'static str, s: &str, max: usize) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "contains control characters"));
    }
    Ok(s.to_string())
}

impl NewCustomer {
    /// Checks every field; errors name the field as in the API.
    pub fn validate(&self) -> Result<ValidCustomer, ValidationError> {
        let code = self.code.trim();
        if code.is_empty() {
            return Err(ValidationError::new("code", "is required"));
        }
        if code.chars().count() > MAX_CODE_CHARS
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ValidationError::new(
                "code",
                format!("{code:?}: use at most {MAX_CODE_CHARS} letters, digits, '-', '_' or '.'"),
            ));
        }
        let name = bounded("name", &self.name, MAX_NAME_CHARS)?;
        if name.is_empty() {
            return Err(ValidationError::new("name", "is required"));
        }
        let class = parse_class(&self.class).ok_or_else(|| {
            let known: Vec<&str> = CustomerClass::ALL.iter().map(|c| c.as_str()).collect();
            ValidationError::new(
                "class",
                format!(
                    "{:?} is not a customer class (one of {} or its Chinese name)",
                    self.class.trim(),
                    known.join(", ")
                ),
            )
        })?;
        let branch = bounded("branch", &self.branch, MAX_NAME_CHARS)?;
        let mut numbers: Vec<PhoneNumber> = Vec::new();
        for raw in split_list(&self.numbers) {
            let n = PhoneNumber::parse(raw)
                .map_err(|e| ValidationError::new("numbers", format!("{raw:?}: {e}")))?;
            if !numbers.contains(&n) {
                numbers.push(n);
            }
        }
        if numbers.is_empty() {
            return Err(ValidationError::new(
                "numbers",
                "at least one line is required",
            ));
        }
        if numbers.len() > MAX_NUMBERS {
            return Err(ValidationError::new(
                "numbers",
                format!("more than {MAX_NUMBERS} lines in one row"),
            ));
        }
        let contacts = parse_contacts(&self.contacts)?;
        let sla_note = bounded("sla_note", &self.sla_note, MAX_SLA_CHARS)?;
        Ok(ValidCustomer {
            code: code.to_string(),
            name,
            class,
            branch,
            numbers,
            contacts,
            sla_note,
        })
    }
}

/// Contacts as typed: `name:phone` (or `name：phone`, or a bare name) separated like numbers.
pub fn parse_contacts(s: &str) -> Result<Vec<Contact>, ValidationError> {
    let mut contacts = Vec::new();
    for raw in split_list(s) {
        let (name, phone) = match raw.split_once([':', '：']) {
            Some((n, p)) => (n.trim(), Some(p.trim())),
            None => (raw, None),
        };
        let name = bounded("contacts", name, MAX_NAME_CHARS)?;
        if name.is_empty() {
            return Err(ValidationError::new(
                "contacts",
                format!("{raw:?}: a contact needs a name"),
            ));
        }
        let phone = match phone.filter(|p| !p.is_empty()) {
            Some(p) => Some(
                PhoneNumber::parse(p)
                    .map_err(|e| ValidationError::new("contacts", format!("{raw:?}: {e}")))?,
            ),
            None => None,
        };
        contacts.push(Contact { name, phone });
    }
    if contacts.len() > MAX_CONTACTS {
        return Err(ValidationError::new(
            "contacts",
            format!("more than {MAX_CONTACTS} contacts"),
        ));
    }
    Ok(contacts)
}

/// Contacts written back the way [`parse_contacts`] reads them (`张三:13800000000;李四`).
pub fn format_contacts(contacts: &[Contact]) -> String {
    contacts
        .iter()
        .map(|c| match &c.phone {
            Some(p) => format!("{}:{}", c.name, p),
            None => c.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// What changed from `old` to `new`, one zh-CN line per field (numbers as added and removed),
/// for the directory's audit rows; empty when nothing did.
pub fn changes(old: &ValidCustomer, new: &ValidCustomer) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |label: &str, a: &str, b: &str| {
        if a != b {
            out.push(format!("{label}: {a:?} → {b:?}"));
        }
    };
    field("名称", &old.name, &new.name);
    field("类别", old.class.label_zh(), new.class.label_zh());
    field("分公司", &old.branch, &new.branch);
    field(
        "联系人",
        &format_contacts(&old.contacts),
        &format_contacts(&new.contacts),
    );
    field("SLA备注", &old.sla_note, &new.sla_note);
    let added: Vec<&str> = new
        .numbers
        .iter()
        .filter(|n| !old.numbers.contains(n))
        .map(PhoneNumber::as_str)
        .collect();
    let removed: Vec<&str> = old
        .numbers
        .iter()
        .filter(|n| !new.numbers.contains(n))
        .map(PhoneNumber::as_str)
        .collect();
    if !added.is_empty() {
        out.push(format!("新增号码: {}", added.join(", ")));
    }
    if !removed.is_empty() {
        out.push(format!("删除号码: {}", removed.join(", ")));
    }
    out
}

/// The columns of a directory file, each with the header names it is known by.
const COLUMNS: &[(&str, &[&str])] = &[
    ("code", &["code", "客户编码", "客户编号", "编码"]),
    ("name", &["name", "客户名称", "名称", "客户名"]),
    ("class", &["class", "客户类别", "类别", "用户类别"]),
    ("branch", &["branch", "分公司", "营业区"]),
    ("numbers", &["numbers", "号码", "电话号码", "线路号码"]),
    ("contacts", &["contacts", "联系人"]),
    (
        "sla_note",
        &["sla_note", "sla", "SLA备注", "服务等级备注", "备注"],
    ),
];

/// Which column of the file each field is in, from the header row. Unknown headers are
/// ignored; `code`, `name` and `numbers` must be present.
pub fn map_headers(headers: &[String]) -> Result<HashMap<&'static str, usize>, String> {
    let mut at = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        if let Some((field, _)) = COLUMNS
            .iter()
            .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(h)))
            && at.insert(*field, i).is_some()
        {
            return Err(format!(
                "表头 {h:?} 出现了两次 (column {field} given twice)"
            ));
        }
    }
    for required in ["code", "name", "numbers"] {
        if !at.contains_key(required) {
            let names = COLUMNS
                .iter()
                .find(|(f, _)| *f == required)
                .map_or(&[][..], |(_, n)| *n);
            return Err(format!(
                "缺少必需的列 {} (missing column {required})",
                names.join(" / ")
            ));
        }
    }
    Ok(at)
}

/// A data row of a file: its line (1-based, the header is line 1) and its cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRow {
    pub line: usize,
    pub cells: Vec<String>,
}

/// A row the import refuses, and why (zh-CN first, for the report an admin reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedRow {
    pub line: usize,
    pub code: String,
    pub reason: String,
}

/// What an import will store and what it refuses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// (line, customer), in file order.
    pub accepted: Vec<(usize, ValidCustomer)>,
    pub refused: Vec<RefusedRow>,
}

/// Plans an import: each row validated, a code given twice refused at its later row, and a
/// number that two customers list refused at both rows, each naming the other. Numbers
/// already stored under another customer are the store's check (it knows them).
pub fn plan_import(headers: &[String], rows: &[ImportRow]) -> Result<ImportPlan, String> {
    let at = map_headers(headers)?;
    let cell = |r: &ImportRow, f: &str| -> String {
        at.get(f)
            .and_then(|&i| r.cells.get(i))
            .cloned()
            .unwrap_or_default()
    };
    let mut plan = ImportPlan::default();
    let mut valid: Vec<(usize, ValidCustomer)> = Vec::new();
    let mut code_at: HashMap<String, usize> = HashMap::new();
    for r in rows {
        if r.cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let new = NewCustomer {
            code: cell(r, "code"),
            name: cell(r, "name"),
            class: cell(r, "class"),
            branch: cell(r, "branch"),
            numbers: cell(r, "numbers"),
            contacts: cell(r, "contacts"),
            sla_note: cell(r, "sla_note"),
        };
        match new.validate() {
            Err(e) => plan.refused.push(RefusedRow {
                line: r.line,
                code: new.code.trim().to_string(),
                reason: format!("字段有误: {e}"),
            }),
            Ok(c) => {
                if let Some(&first) = code_at.get(&c.code) {
                    plan.refused.push(RefusedRow {
                        line: r.line,
                        code: c.code.clone(),
                        reason: format!("客户编码 {} 与第 {first} 行重复", c.code),
                    });
                } else {
                    code_at.insert(c.code.clone(), r.line);
                    valid.push((r.line, c));
                }
            }
        }
    }
    // Numbers listed by two customers: both rows refused, each naming the other.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let mut clash: HashMap<usize, Vec<String>> = HashMap::new();
    for (k, (line, c)) in valid.iter().enumerate() {
        for n in &c.numbers {
            match owner.get(n.as_str()) {
                Some(&j) => {
                    let (other_line, other) = (&valid[j].0, &valid[j].1);
                    clash.entry(k).or_default().push(format!(
                        "号码 {n} 也属于第 {other_line} 行的客户 {}",
                        other.code
                    ));
                    clash
                        .entry(j)
                        .or_default()
                        .push(format!("号码 {n} 也属于第 {line} 行的客户 {}", c.code));
                }
                None => {
                    owner.insert(n.as_str(), k);
                }
            }
        }
    }
    let mut refused_by_clash = Vec::new();
    for (k, (line, c)) in valid.iter().enumerate() {
        if let Some(why) = clash.get(&k) {
            refused_by_clash.push(RefusedRow {
                line: *line,
                code: c.code.clone(),
                reason: why.join("; "),
            });
        }
    }
    plan.accepted = valid
        .into_iter()
        .enumerate()
        .filter(|(k, _)| !clash.contains_key(k))
        .map(|(_, v)| v)
        .collect();
    plan.refused.extend(refused_by_clash);
    plan.refused.sort_by_key(|r| r.line);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    fn row(line: usize, cells: &[&str]) -> ImportRow {
        ImportRow {
            line,
            cells: cells.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn changes_name_each_changed_field_and_the_numbers_added_and_removed() {
        let old = NewCustomer {
            code: "C1".into(),
            name: "甲公司".into(),
            numbers: "01062345678;01062345679".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert!(changes(&old, &old).is_empty());
        let new = NewCustomer {
            code: "C1".into(),
            name: "甲公司".into(),
            class: "大客户".into(),
            numbers: "01062345679;01062345670".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(
            changes(&old, &new),
            vec![
                "类别: \"普通用户\" → \"大用户\"".to_string(),
                "新增号码: 01062345670".to_string(),
                "删除号码: 01062345678".to_string(),
            ]
        );
    }

    #[test]
    fn contacts_round_trip_through_their_text() {
        let c = parse_contacts("张三：13800000000，李四").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(format_contacts(&c), "张三:13800000000;李四");
        assert_eq!(parse_contacts(&format_contacts(&c)).unwrap(), c);
        assert_eq!(parse_contacts(":138").unwrap_err().field, "contacts");
    }

    #[test]
    fn jo8_classes_are_read_by_wire_name_and_chinese_name() {
        assert_eq!(parse_class("big"), Some(CustomerClass::Big));
        assert_eq!(parse_class("BIG"), Some(CustomerClass::Big));
        assert_eq!(parse_class("大客户"), Some(CustomerClass::Big));
        assert_eq!(parse_class("大用户"), Some(CustomerClass::Big));
        assert_eq!(parse_class("专线"), Some(CustomerClass::LeasedLine));
        assert_eq!(parse_class("重要用户"), Some(CustomerClass::Important));
        assert_eq!(parse_class(""), Some(CustomerClass::Ordinary));
        assert_eq!(parse_class("金牌"), None);
    }

    #[test]
    fn a_customer_validates_every_field_and_names_the_bad_one() {
        let ok = NewCustomer {
            code: "C-001".into(),
            name: " 广州港务局 ".into(),
            class: "大客户".into(),
            branch: "天河".into(),
            numbers: "020-8888-0001；02088880002、020 8888 0001".into(),
            contacts: "张三:13800000000;李四".into(),
            sla_note: "4 小时到场".into(),
        }
        .validate()
        .unwrap();
        assert_eq!(ok.name, "广州港务局");
        assert_eq!(ok.class, CustomerClass::Big);
        let numbers: Vec<&str> = ok.numbers.iter().map(|n| n.as_str()).collect();
        assert_eq!(numbers, ["02088880001", "02088880002"], "deduplicated");
        assert_eq!(ok.contacts.len(), 2);
        assert_eq!(
            ok.contacts[0].phone.as_ref().map(|p| p.as_str()),
            Some("13800000000")
        );
        assert_eq!(ok.contacts[1].phone, None);

        let base = NewCustomer {
            code: "C-002".into(),
            name: "某公司".into(),
            numbers: "02088880003".into(),
            ..Default::default()
        };
        assert_eq!(base.validate().unwrap().class, CustomerClass::Ordinary);
        let cases: [(&str, NewCustomer); 6] = [
            (
                "code",
                NewCustomer {
                    code: "".into(),
                    ..base.clone()
                },
            ),
            (
                "code",
                NewCustomer {
                    code: "有 空格".into(),
                    ..base.clone()
                },
            ),
            (
                "name",
                NewCustomer {
                    name: " ".into(),
                    ..base.clone()
                },
            ),
            (
                "class",
                NewCustomer {
                    class: "gold".into(),
                    ..base.clone()
                },
            ),
            (
                "numbers",
                NewCustomer {
                    numbers: "02088x".into(),
                    ..base.clone()
                },
            ),
            (
                "contacts",
                NewCustomer {
                    contacts: ":13800000000".into(),
                    ..base.clone()
                },
            ),
        ];
        for (field, c) in cases {
            let e = c.validate().unwrap_err();
            assert_eq!(e.field, field, "{c:?}: {e}");
        }
        let e = NewCustomer {
            numbers: "".into(),
            ..base
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "numbers");
    }

    #[test]
    fn headers_are_known_in_chinese_and_english_and_required_ones_are_named() {
        let at = map_headers(&headers(&["\u{feff}客户编码", "客户名称", "号码", "其他"])).unwrap();
        assert_eq!(at["code"], 0, "a BOM before the first header is ignored");
        assert_eq!(at["numbers"], 2);
        assert!(!at.contains_key("class"));
        let at = map_headers(&headers(&["Code", "NAME", "numbers", "class"])).unwrap();
        assert_eq!(at["class"], 3);
        let e = map_headers(&headers(&["客户编码", "客户名称"])).unwrap_err();
        assert!(e.contains("numbers") && e.contains("号码"), "{e}");
        let e = map_headers(&headers(&["code", "编码", "name", "numbers"])).unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn an_import_plan_refuses_bad_rows_repeated_codes_and_shared_numbers_naming_both_rows() {
        let h = headers(&["客户编码", "客户名称", "类别", "号码"]);
        let rows = [
            row(2, &["A1", "甲公司", "大客户", "02088880001;02088880002"]),
            row(3, &["B1", "乙公司", "", "02088880003"]),
            row(4, &["C1", "丙公司", "金牌", "02088880004"]),
            row(5, &["B1", "乙公司二", "", "02088880005"]),
            row(6, &["", "", "", ""]),
            row(7, &["D1", "丁公司", "专线", "020-8888-0002"]),
            row(8, &["E1", "戊公司", "普通用户", "02088880006"]),
        ];
        let plan = plan_import(&h, &rows).unwrap();
        let accepted: Vec<(usize, &str)> = plan
            .accepted
            .iter()
            .map(|(l, c)| (*l, c.code.as_str()))
            .collect();
        assert_eq!(accepted, [(3, "B1"), (8, "E1")]);
        let refused: Vec<(usize, &str)> = plan
            .refused
            .iter()
            .map(|r| (r.line, r.code.as_str()))
            .collect();
        assert_eq!(refused, [(2, "A1"), (4, "C1"), (5, "B1"), (7, "D1")]);
        let why = |line: usize| {
            plan.refused
                .iter()
                .find(|r| r.line == line)
                .map(|r| r.reason.clone())
                .unwrap()
        };
        assert!(
            why(2).contains("02088880002") && why(2).contains("第 7 行"),
            "{}",
            why(2)
        );
        assert!(
            why(7).contains("02088880002") && why(7).contains("第 2 行"),
            "{}",
            why(7)
        );
        assert!(why(4).contains("class"), "{}", why(4));
        assert!(why(5).contains("第 3 行"), "{}", why(5));
    }

    #[test]
    fn an_import_without_the_required_columns_is_refused_as_a_whole() {
        let e = plan_import(&headers(&["名称", "号码"]), &[]).unwrap_err();
        assert!(e.contains("code"), "{e}");
    }
}
