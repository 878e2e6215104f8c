//! Facts → sections, each with its definition (口径) written out in Chinese.

use crate::erlang::{HALF_HOUR_MS, HalfHour, StaffingRules};
use crate::facts::*;
use crate::model::{Cell, Format as F, Row, Section, col};
use crate::period::{format_beijing, format_hhmm};
use hotline_acd::{Figures, Metrics};
use hotline_domain::rules::DeadlineKind;
use hotline_domain::{Channel, CustomerClass, FaultType, TicketStatus};
use std::collections::BTreeMap;

/// Targets of the on-time repair rate.
pub const TARGET_NON_CABLE: f64 = 0.99;
pub const TARGET_CABLE: f64 = 0.95;
/// Target of the satisfaction rate.
pub const TARGET_SATISFACTION: f64 = 0.95;

fn count_rows<'a>(
    s: &mut Section,
    total: u64,
    counts: &BTreeMap<String, u64>,
    names: impl Iterator<Item = (&'a str, &'a str)>,
) {
    let mut shown = 0;
    for (wire, zh) in names {
        let n = counts.get(wire).copied().unwrap_or(0);
        shown += n;
        s.push(vec![Cell::text(zh), Cell::count(n), Cell::ratio(n, total)]);
    }
    if shown < total {
        s.push(vec![
            Cell::text("未知"),
            Cell::count(total - shown),
            Cell::ratio(total - shown, total),
        ]);
    }
}

/// DM3: by fault type, channel, class; the repeat rate; SF11: by branch.
pub fn tickets(f: &TicketFacts, branches: &[String]) -> Vec<Section> {
    let cols = |what: &str| {
        vec![
            col(what, F::Text),
            col("申告数", F::Int),
            col("占比", F::Percent),
        ]
    };
    let def = "统计期内受理（received_at 落在统计期，北京时间）的申告单，按";
    let mut fault = Section::new(
        "tickets_by_fault",
        "按故障类型",
        &format!("{def}故障类型分类；占比 = 该类申告数 ÷ 申告总数。"),
        cols("故障类型"),
    );
    count_rows(
        &mut fault,
        f.total,
        &f.by_fault,
        FaultType::ALL.iter().map(|x| (x.as_str(), x.label_zh())),
    );
    let mut channel = Section::new(
        "tickets_by_channel",
        "按受理渠道",
        &format!("{def}受理渠道分类；占比 = 该渠道申告数 ÷ 申告总数。"),
        cols("受理渠道"),
    );
    count_rows(
        &mut channel,
        f.total,
        &f.by_channel,
        Channel::ALL.iter().map(|x| (x.as_str(), x.label_zh())),
    );
    let mut class = Section::new(
        "tickets_by_class",
        "按用户类别",
        &format!("{def}用户类别分类；占比 = 该类申告数 ÷ 申告总数。"),
        cols("用户类别"),
    );
    count_rows(
        &mut class,
        f.total,
        &f.by_class,
        CustomerClass::ALL
            .iter()
            .map(|x| (x.as_str(), x.label_zh())),
    );
    let mut branch = Section::new(
        "tickets_by_branch",
        "按分公司",
        &format!(
            "{def}分公司（受理时按号码前缀与局号映射盖章，最长前缀优先，未匹配的计入“未归属”）分类。"
        ),
        cols("分公司"),
    );
    count_rows(
        &mut branch,
        f.total,
        &f.by_branch,
        branches.iter().map(|b| (b.as_str(), b.as_str())),
    );
    let mut repeat = Section::new(
        "repeat_rate",
        "重复申告率",
        "重复申告：受理时被判定为同一号码近期申告的重复（申告单 repeat_of 非空，判定窗口见 [rules] repeat_window_days）。重复申告率 = 重复申告数 ÷ 申告总数。",
        vec![
            col("申告总数", F::Int),
            col("重复申告数", F::Int),
            col("重复申告率", F::Percent),
        ],
    );
    repeat.push(vec![
        Cell::count(f.total),
        Cell::count(f.repeats),
        Cell::ratio(f.repeats, f.total),
    ]);
    vec![fault, channel, class, branch, repeat]
}

/// SS3/SS5: on-time repair per branch against the targets; late orders listed.
pub fn repair(f: &RepairFacts, branches: &[String]) -> Vec<Section> {
    let mut s = Section::new(
        "repair_by_branch",
        "修复及时率",
        "统计期内到期（查修时限 due_at 落在统计期）的查修时限，按分公司与是否线缆故障分列。查修时限按查修时限表（故障类型 × 用户类别）自受理时起算；按时修复 = 回单（时限满足 met_at）不晚于时限。修复及时率 = 按时修复数 ÷ 到期数。目标：非线缆故障 ≥ 99%，线缆故障 ≥ 95%。",
        vec![
            col("分公司", F::Text),
            col("故障类别", F::Text),
            col("到期数", F::Int),
            col("按时修复", F::Int),
            col("修复及时率", F::Percent),
            col("目标", F::Percent),
            col("达标", F::Text),
        ],
    );
    let mut names: Vec<&str> = branches.iter().map(String::as_str).collect();
    for (b, _) in f.by_branch.keys() {
        if !names.contains(&b.as_str()) {
            names.push(b);
        }
    }
    for b in names {
        for cable in [false, true] {
            let Some(c) = f.by_branch.get(&(b.to_string(), cable)) else {
                continue;
            };
            let target = if cable {
                TARGET_CABLE
            } else {
                TARGET_NON_CABLE
            };
            let rate = (c.due > 0).then(|| c.on_time as f64 / c.due as f64);
            s.push(vec![
                Cell::text(b),
                Cell::text(if cable {
                    "线缆故障"
                } else {
                    "非线缆故障"
                }),
                Cell::count(c.due),
                Cell::count(c.on_time),
                Cell::opt(rate),
                Cell::Num(target),
                Cell::text(match rate {
                    Some(r) if r >= target => "是",
                    Some(_) => "否",
                    None => "",
                }),
            ]);
        }
    }
    let mut late = Section::new(
        "late_orders",
        "超时工单",
        "统计期内到期而未按时修复的查修时限：回单晚于时限，或至统计期末仍未回单（修复时间为空）。",
        vec![
            col("申告单号", F::Int),
            col("分公司", F::Text),
            col("障碍号码", F::Text),
            col("故障类型", F::Text),
            col("用户类别", F::Text),
            col("受理时间", F::Time),
            col("时限", F::Time),
            col("修复时间", F::Time),
        ],
    );
    for o in &f.late {
        late.rows.push(Row::linked(
            vec![
                Cell::Int(o.ticket_id),
                Cell::text(&o.branch),
                Cell::text(&o.faulty_number),
                Cell::text(
                    FaultType::parse(&o.fault_type)
                        .map(|x| x.label_zh())
                        .unwrap_or(&o.fault_type),
                ),
                Cell::text(
                    CustomerClass::parse(&o.customer_class)
                        .map(|x| x.label_zh())
                        .unwrap_or(&o.customer_class),
                ),
                Cell::Time(o.received_at),
                Cell::Time(o.due_at),
                o.met_at.map(Cell::Time).unwrap_or(Cell::Empty),
            ],
            format!("id={}", o.ticket_id),
            vec![o.ticket_id],
        ));
    }
    vec![s, late]
}

const QUEUE_DEF: &str = "话务指标取自排队日志（queue_log），与队列指标接口同一口径：15秒接听率 = 进入队列后15秒内接起的呼叫 ÷（接起 + 非短时放弃 + 转语音信箱）的呼叫，5秒内放弃为短时放弃不计入分母；呼叫计入其进入队列所在的时段；ASA = 接起呼叫的平均排队时长（秒）；放弃率 = 放弃 ÷（接起 + 放弃 + 转语音信箱）。话务为全中心口径，不分分公司。";

fn queue_cols(first: &str) -> Vec<crate::model::Column> {
    vec![
        col(first, F::Text),
        col("进入队列", F::Int),
        col("接起", F::Int),
        col("15秒内接起", F::Int),
        col("放弃", F::Int),
        col("短时放弃", F::Int),
        col("转语音信箱", F::Int),
        col("15秒接听率", F::Percent),
        col("平均应答速度(秒)", F::Decimal),
        col("放弃率", F::Percent),
    ]
}

fn queue_row(label: String, x: &Figures) -> Vec<Cell> {
    vec![
        Cell::Text(label),
        Cell::count(x.entered),
        Cell::count(x.answered),
        Cell::count(x.answered_in_time),
        Cell::count(x.abandoned),
        Cell::count(x.short_abandons),
        Cell::count(x.to_voicemail),
        Cell::opt(x.service_level()),
        Cell::opt(x.asa_seconds()),
        Cell::opt(x.abandonment_rate()),
    ]
}

/// JO2: the day, 15-minute intervals, per agent; the staffing advice per half hour.
pub fn queue(
    m: &Metrics,
    agents: &BTreeMap<String, Figures>,
    staffing: &[HalfHour],
    rules: StaffingRules,
) -> Vec<Section> {
    let mut days = Section::new("queue_days", "话务日报", QUEUE_DEF, queue_cols("日期"));
    for d in &m.days {
        days.push(queue_row(crate::period::date_of(d.start_ms).to_string(), d));
    }
    days.push(queue_row("合计".into(), &m.total));
    let mut iv = Section::new(
        "queue_intervals",
        "15分钟话务",
        QUEUE_DEF,
        queue_cols("时段"),
    );
    for i in &m.intervals {
        iv.push(queue_row(
            format!(
                "{} {}",
                crate::period::date_of(i.start_ms),
                format_hhmm(i.start_ms)
            ),
            i,
        ));
    }
    let mut ag = Section::new(
        "queue_agents",
        "坐席话务",
        "按坐席：该坐席接起的呼叫（排队时长、15秒内接起、ASA 同上口径）与振铃（JO2 坐席15秒应答：振铃15秒内应答的振铃 ÷ 振铃次数，振铃中用户挂机的不计）；未应答含话机故障。",
        vec![
            col("坐席", F::Text),
            col("接起", F::Int),
            col("15秒内接起", F::Int),
            col("平均应答速度(秒)", F::Decimal),
            col("振铃次数", F::Int),
            col("振铃15秒内应答", F::Int),
            col("未应答", F::Int),
            col("振铃应答率", F::Percent),
        ],
    );
    for (a, x) in agents {
        ag.push(vec![
            Cell::text(a),
            Cell::count(x.answered),
            Cell::count(x.answered_in_time),
            Cell::opt(x.asa_seconds()),
            Cell::count(x.offers),
            Cell::count(x.offers_answered_in_time),
            Cell::count(x.offers_no_answer + x.offers_failed),
            Cell::opt(x.offer_answer_rate()),
        ]);
    }
    let mut st = Section::new(
        "staffing",
        "排班建议",
        &format!(
            "每半小时：呼入量 = 进入队列的呼叫数；15秒接听率同上口径；平均处理时长 = 该半小时接起且已结束呼叫的通话时长均值（无则取 {} 秒）；话务量（爱尔兰）= 呼入量 × 平均处理时长 ÷ 1800 秒；建议坐席数 = 按 Erlang C 使 {:.0}% 的呼叫在 {} 秒内接起所需的最少坐席数；在岗坐席 = 该半小时在排队日志中有振铃或接起的坐席数。",
            rules.default_handle_secs,
            rules.target * 100.0,
            rules.answer_secs
        ),
        vec![
            col("时段", F::Text),
            col("呼入量", F::Int),
            col("15秒接听率", F::Percent),
            col("平均处理时长(秒)", F::Decimal),
            col("话务量(爱尔兰)", F::Decimal),
            col("建议坐席数", F::Int),
            col("在岗坐席", F::Int),
        ],
    );
    for h in staffing {
        // the 15-second rate of the half hour: its two 15-minute intervals added up
        let mut num = 0;
        let mut den = 0;
        for i in m
            .intervals
            .iter()
            .filter(|i| i.start_ms >= h.start_ms && i.start_ms < h.start_ms + HALF_HOUR_MS)
        {
            num += i.answered_in_time;
            den += i.service_level_calls();
        }
        st.push(vec![
            Cell::Text(format!(
                "{} {}",
                crate::period::date_of(h.start_ms),
                h.label()
            )),
            Cell::count(h.offered),
            Cell::ratio(num, den),
            Cell::Num(h.handle_secs),
            Cell::Num(h.erlangs),
            Cell::Int(i64::from(h.needed)),
            Cell::Int(i64::from(h.agents_seen)),
        ]);
    }
    vec![days, iv, ag, st]
}

fn rule_name(kind: &str) -> String {
    match DeadlineKind::parse(kind) {
        Some(k) => format!("{}（{}）", k.label_zh(), k.requirement()),
        None => kind.to_string(),
    }
}

/// SO2, TE1, TE4 (and SS3) deadlines; alerts and breaches per rule.
pub fn deadlines(f: &DeadlineFacts) -> Vec<Section> {
    let mut s = Section::new(
        "deadlines",
        "时限达标",
        "统计期内到期（due_at 落在统计期）的各项时限：派单时限（SO2，受理后1小时，紧急事件与大客户立即）、文本录入时限（TE1，收到后2小时内录入）、转高级话务员时限（TE4，受理后2小时）、查修时限（SS3）。按时 = 满足时间不晚于时限；超时未满足 = 至统计期末仍未满足。达标率 = 按时 ÷ 到期数。",
        vec![
            col("时限", F::Text),
            col("到期数", F::Int),
            col("按时", F::Int),
            col("超时满足", F::Int),
            col("超时未满足", F::Int),
            col("达标率", F::Percent),
        ],
    );
    let mut a = Section::new(
        "alerts",
        "告警与超时",
        "统计期内产生（告警时间落在统计期）的告警，按规则与级别：预警 = 时限已过预警比例（[rules] warn_ratio）仍未满足；超时 = 时限已过仍未满足。每条时限每级至多一次。",
        vec![
            col("规则", F::Text),
            col("预警", F::Int),
            col("超时", F::Int),
        ],
    );
    for k in DeadlineKind::ALL {
        let c = f.by_rule.get(k.as_str()).cloned().unwrap_or_default();
        s.push(vec![
            Cell::Text(rule_name(k.as_str())),
            Cell::count(c.due),
            Cell::count(c.met_in_time),
            Cell::count(c.met_late),
            Cell::count(c.open),
            Cell::ratio(c.met_in_time, c.due),
        ]);
        a.push(vec![
            Cell::Text(rule_name(k.as_str())),
            Cell::count(c.warnings),
            Cell::count(c.breaches),
        ]);
    }
    vec![s, a]
}

/// SS2 and QA2: satisfaction and QA scores per agent.
pub fn quality(f: &QualityFacts) -> Vec<Section> {
    let def = if f.has_results {
        "调查数：统计期内记录的回访调查结果，按受理该申告的坐席；满意数：其中“满意”与“基本满意”；满意率 = 满意数 ÷ 调查数（目标 ≥ 95%）。质检数：统计期内给出的质检与考核评分（重评以最新一次为准），按被评坐席；质检平均分 = 评分之和 ÷ 质检数（满分 100）。"
    } else {
        "暂无数据：统计期内没有记录回访调查结果，也没有质检评分。满意率 = （满意 + 基本满意）÷ 调查数（目标 ≥ 95%），质检平均分 = 评分之和 ÷ 质检数（满分 100）。"
    };
    let mut s = Section::new(
        "quality",
        "满意度与质检",
        def,
        vec![
            col("坐席", F::Text),
            col("调查数", F::Int),
            col("满意数", F::Int),
            col("满意率", F::Percent),
            col("质检数", F::Int),
            col("质检平均分", F::Decimal),
        ],
    );
    let mut tot = (0, 0, 0, 0.0);
    for (a, (n, ok, q, sum)) in &f.by_agent {
        tot = (tot.0 + n, tot.1 + ok, tot.2 + q, tot.3 + sum);
        s.push(vec![
            Cell::text(a),
            Cell::count(*n),
            Cell::count(*ok),
            Cell::ratio(*ok, *n),
            Cell::count(*q),
            if *q > 0 {
                Cell::Num(sum / *q as f64)
            } else {
                Cell::Empty
            },
        ]);
    }
    s.push(vec![
        Cell::text("合计"),
        Cell::count(tot.0),
        Cell::count(tot.1),
        Cell::ratio(tot.1, tot.0),
        Cell::count(tot.2),
        if tot.2 > 0 {
            Cell::Num(tot.3 / tot.2 as f64)
        } else {
            Cell::Empty
        },
    ]);
    let mut done = Section::new(
        "surveys_done",
        "回访调查完成数",
        "统计期内完成（done_at 落在统计期）的满意度回访调查任务数。",
        vec![col("完成数", F::Int)],
    );
    done.push(vec![Cell::count(f.surveys_done)]);
    vec![s, done]
}

fn linked(label: Vec<Cell>, l: &Linked, filter: String) -> Row {
    let mut cells = label;
    cells.push(Cell::count(l.count));
    Row::linked(cells, filter, l.ids.clone())
}

/// SO8: the morning overview; each row carries the filter and ids of its tickets.
pub fn overview(f: &OverviewFacts, today_queue: &Figures, now: i64) -> Vec<Section> {
    let mut open = Section::new(
        "open_by_state_age",
        "未结申告（按状态与时长）",
        &format!(
            "截至 {} 未结（状态非已回单、已退单、已结案）的申告单，按状态与自受理起的时长分组。",
            format_beijing(now)
        ),
        vec![
            col("状态", F::Text),
            col("时长", F::Text),
            col("申告数", F::Int),
        ],
    );
    for ((st, b), l) in &f.open_by_state_age {
        let zh = TicketStatus::parse(st).map(|s| s.label_zh()).unwrap_or(st);
        open.rows.push(linked(
            vec![Cell::text(zh), Cell::text(AGE_BUCKETS[*b].1)],
            l,
            format!("status={st}&age_bucket={b}"),
        ));
    }
    let mut lim = Section::new(
        "orders_at_limit",
        "临近或超过时限",
        "未满足的时限：临近 = 已过预警时刻未到期；超过 = 已到期仍未满足（截至当前）。",
        vec![
            col("时限", F::Text),
            col("状态", F::Text),
            col("数量", F::Int),
        ],
    );
    for k in DeadlineKind::ALL {
        let e = Linked::default();
        let at = f.at_limit.get(k.as_str()).unwrap_or(&e);
        let past = f.past_limit.get(k.as_str()).unwrap_or(&e);
        lim.rows.push(linked(
            vec![Cell::Text(rule_name(k.as_str())), Cell::text("临近时限")],
            at,
            format!("deadline={}&state=warned", k.as_str()),
        ));
        lim.rows.push(linked(
            vec![Cell::Text(rule_name(k.as_str())), Cell::text("已超时")],
            past,
            format!("deadline={}&state=overdue", k.as_str()),
        ));
    }
    let mut y = Section::new(
        "yesterday",
        "昨日重复申告与超时",
        "昨日（北京时间）受理的重复申告，以及昨日产生的各规则超时告警。",
        vec![col("项目", F::Text), col("数量", F::Int)],
    );
    y.rows.push(linked(
        vec![Cell::text("重复申告")],
        &f.repeats_yesterday,
        "repeat=1&received=yesterday".into(),
    ));
    for k in DeadlineKind::ALL {
        let e = Linked::default();
        let l = f.breaches_yesterday.get(k.as_str()).unwrap_or(&e);
        y.rows.push(linked(
            vec![Cell::Text(format!("超时：{}", rule_name(k.as_str())))],
            l,
            format!("breach={}&at=yesterday", k.as_str()),
        ));
    }
    let mut q = Section::new(
        "today_queue",
        "今日15秒接听率",
        &format!(
            "今日零点（北京时间）至 {} 的话务。{QUEUE_DEF}",
            format_beijing(now)
        ),
        queue_cols("时段"),
    );
    q.push(queue_row("今日至今".into(), today_queue));
    vec![open, lim, y, q]
}
