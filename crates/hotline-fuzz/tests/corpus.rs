//! Replays every fuzz target's corpus (`fuzz/corpus/<target>/`) and every crash the fuzzer
//! ever found (`fuzz/regressions/<target>/`) through the target on the stable toolchain, so
//! the README's test command checks them even where nightly and cargo-fuzz are missing.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_target_has_a_seed_corpus_and_a_fuzz_target_file() {
    for t in hotline_fuzz::TARGETS {
        let corpus = fuzz_dir().join("corpus").join(t.name);
        assert!(
            !files(&corpus).is_empty(),
            "no seed corpus in {}",
            corpus.display()
        );
        let target = fuzz_dir()
            .join("fuzz_targets")
            .join(format!("{}.rs", t.name));
        let src = std::fs::read_to_string(&target)
            .unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        assert!(
            src.contains(&format!("hotline_fuzz::{}(", t.name)),
            "{} does not call hotline_fuzz::{}",
            target.display(),
            t.name
        );
    }
}

#[test]
fn corpus_and_regressions_replay_without_a_panic() {
    let mut replayed = 0usize;
    let mut failed = Vec::new();
    for t in hotline_fuzz::TARGETS {
        for sub in ["corpus", "regressions"] {
            for f in files(&fuzz_dir().join(sub).join(t.name)) {
                let data = std::fs::read(&f).unwrap();
                if std::panic::catch_unwind(|| (t.run)(&data)).is_err() {
                    failed.push(f.display().to_string());
                }
                replayed += 1;
            }
        }
    }
    assert!(failed.is_empty(), "inputs that panic: {failed:#?}");
    assert!(
        replayed >= hotline_fuzz::TARGETS.len(),
        "replayed only {replayed} inputs"
    );
    eprintln!("replayed {replayed} inputs");
}
