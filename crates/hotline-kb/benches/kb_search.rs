//! KB search benchmark (issue 15): index N generated articles (default 50,000) and report the
//! indexing rate, then run 8 concurrent searchers (threads) over mixed queries (two-character
//! Chinese words, ASCII + Chinese, numbers, with and without a fault-type filter) and report
//! latency percentiles per query (search + snippets + stored fields, as the RPC does it).
//!
//! `cargo bench -p hotline-kb --bench kb_search` (env: KB_BENCH_ARTICLES, KB_BENCH_SEARCHERS,
//! KB_BENCH_QUERIES per searcher, KB_BENCH_DIR to index on disk instead of in memory).

use hotline_kb::{ArticleDoc, KbIndex, SearchQuery, Segmenter};
use std::time::{Duration, Instant};

const WORDS: &[&str] = &[
    "停电",
    "抢修",
    "户号",
    "杂音",
    "串音",
    "断线",
    "掉线",
    "电费",
    "宽带",
    "光猫",
    "光纤",
    "话费",
    "欠费",
    "停机",
    "无音",
    "忙音",
    "分线盒",
    "交接箱",
    "电杆",
    "线路",
    "入户线",
    "变压器",
    "小区",
    "报修",
    "路由器",
    "机顶盒",
    "专线",
    "大客户",
    "座机",
    "用户",
    "突然",
    "昨天",
    "晚上",
    "反复",
    "无法",
    "拨打",
    "电话",
    "检查",
    "更换",
    "联系",
    "营业厅",
    "维护",
    "工程师",
    "上门",
    "测试",
    "恢复",
    "正常",
    "故障",
    "原因",
    "处理",
    "办法",
    "注意",
    "安全",
    "天气",
    "大风",
    "雷雨",
    "施工",
    "挖断",
    "老化",
    "受潮",
    "接触不良",
    "信号",
    "指示灯",
];
const ASCII: &[&str] = &["ADSL", "LOS", "PON", "ONU", "IPTV", "WiFi", "VoIP", "DNS"];
const FAULTS: &[&str] = &[
    "no_dial_tone",
    "noise",
    "cannot_call_out",
    "cannot_receive",
    "drops",
    "crosstalk",
    "leased_line_down",
    "cable_damage",
    "other",
];
const QUERIES: &[&str] = &[
    "停电",
    "电费",
    "杂音",
    "断线",
    "ADSL 掉线",
    "光猫 LOS",
    "95598",
    "小区突然停电",
    "串音 入户线",
    "宽带掉线怎么办",
    "户号",
    "抢修",
    "10086 欠费停机",
    "IPTV 机顶盒",
];

/// A small deterministic generator (no dependency, same corpus every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.next() % from.len()]
    }
}

fn article(id: i64, rng: &mut Lcg) -> ArticleDoc {
    let title = format!("{}{}{}", rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS));
    let mut body = String::new();
    // ~8 sentences of 6-10 words: 150-300 characters, as the desk's answers are
    for _ in 0..8 {
        for _ in 0..(6 + rng.next() % 5) {
            if rng.next().is_multiple_of(10) {
                body.push_str(rng.pick(ASCII));
                body.push(' ');
            } else if rng.next().is_multiple_of(25) {
                body.push_str(&format!("{}", 10000 + rng.next() % 90000));
            } else {
                body.push_str(rng.pick(WORDS));
            }
        }
        body.push('。');
    }
    ArticleDoc {
        id,
        title,
        body,
        tags: vec![
            rng.pick(&["线路", "宽带", "电力", "账务", "疑难"])
                .to_string(),
        ],
        fault_types: vec![rng.pick(FAULTS).to_string()],
        state: "published".into(),
        version: 1,
        updated_at: id,
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs it with a tiny corpus
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = env("KB_BENCH_ARTICLES", if quick { 500 } else { 50_000 });
    let searchers = env("KB_BENCH_SEARCHERS", 8);
    let per = env("KB_BENCH_QUERIES", if quick { 20 } else { 2_000 });
    let dir = std::env::var("KB_BENCH_DIR")
        .ok()
        .map(std::path::PathBuf::from);

    let t = Instant::now();
    let seg = Segmenter::shared();
    seg.terms("预热");
    println!(
        "dictionary loaded in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let (index, _) = KbIndex::open(dir.as_deref(), seg).expect("open index");
    let mut rng = Lcg(15);
    let docs: Vec<ArticleDoc> = (1..=n as i64).map(|id| article(id, &mut rng)).collect();
    let chars: usize = docs.iter().map(|d| d.body.chars().count()).sum();
    let t = Instant::now();
    let indexed = index.replace_all(docs, 1).expect("index");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "indexed {indexed} articles ({} chars avg) in {secs:.2} s: {:.0} articles/s ({})",
        chars / n.max(1),
        indexed as f64 / secs,
        if dir.is_some() {
            "on disk"
        } else {
            "in memory"
        }
    );

    let index = std::sync::Arc::new(index);
    let start = Instant::now();
    let handles: Vec<_> = (0..searchers)
        .map(|s| {
            let index = index.clone();
            std::thread::spawn(move || {
                let mut rng = Lcg(100 + s as u64);
                let mut lat = Vec::with_capacity(per);
                let mut found = 0usize;
                for i in 0..per {
                    let q = SearchQuery {
                        text: rng.pick(QUERIES).to_string(),
                        fault_type: (i % 3 == 0).then(|| rng.pick(FAULTS).to_string()),
                        fault_type_boost: i % 2 == 0,
                        states: vec!["published".into()],
                        limit: 10,
                        ..Default::default()
                    };
                    let t = Instant::now();
                    let hits = index.search(&q).expect("search");
                    lat.push(t.elapsed());
                    found += usize::from(!hits.is_empty());
                }
                (lat, found)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut found = 0;
    for h in handles {
        let (lat, f) = h.join().expect("searcher");
        all.extend(lat);
        found += f;
    }
    let wall = start.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{} searches by {searchers} concurrent searchers over {n} articles in {wall:.2} s ({:.0}/s): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {found} with hits",
        all.len(),
        all.len() as f64 / wall,
        pct(&all, 0.5),
        pct(&all, 0.9),
        pct(&all, 0.99),
        pct(&all, 1.0),
    );
    assert!(found > 0, "the generated queries find articles");
}
