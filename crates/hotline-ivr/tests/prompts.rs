//! The shipped prompt set: `prompts/prompts.toml` lists every prompt the flows use, each file
//! exists and is a non-empty 8 kHz mono 16-bit WAV; a missing prompt stops start-up, named.

use std::path::PathBuf;

use hotline_ivr::prompts::{self, MissingPrompt, PromptProblem, check_prompt_ids, check_wav};
use hotline_ivr::{PromptCatalog, check_prompts};

fn catalog_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prompts/prompts.toml")
}

#[test]
fn every_catalog_file_is_an_8khz_mono_16bit_wav() {
    let catalog = PromptCatalog::load(&catalog_path()).expect("prompts.toml loads");
    let mut total_bytes = 0;
    let mut count = 0;
    for e in catalog.entries() {
        assert!(
            e.file.starts_with("zh-CN"),
            "{}: file {} is not under zh-CN/",
            e.id,
            e.file.display()
        );
        assert!(!e.text.trim().is_empty(), "{}: no words", e.id);
        assert!(
            e.pinyin.is_some() != e.synth.is_some(),
            "{}: needs exactly one of pinyin or synth for generate.sh",
            e.id
        );
        let path = catalog.path(&e.id).unwrap();
        let samples = check_wav(&path).unwrap_or_else(|why| panic!("{}: {why}", e.id));
        assert!(samples > 0);
        total_bytes += std::fs::metadata(&path).unwrap().len();
        count += 1;
    }
    assert!(count >= prompts::USED.len());
    // Placeholders stay small enough to commit.
    assert!(
        total_bytes < 5 * 1024 * 1024,
        "prompts take {total_bytes} bytes"
    );
}

#[test]
fn check_prompts_accepts_the_shipped_set() {
    let catalog = PromptCatalog::load(&catalog_path()).unwrap();
    check_prompts(&catalog).expect("every prompt a flow uses is present");
}

#[test]
fn check_prompts_names_a_prompt_missing_from_the_catalog() {
    let text = std::fs::read_to_string(catalog_path()).unwrap();
    // Drop the beep's block.
    let without_beep = text.replace("id = \"beep\"", "id = \"beep_renamed\"");
    let catalog = PromptCatalog::parse(&without_beep, catalog_path().parent().unwrap()).unwrap();
    let err = check_prompts(&catalog).unwrap_err();
    assert_eq!(
        err,
        MissingPrompt {
            id: "beep".into(),
            problem: PromptProblem::NotInCatalog
        }
    );
    assert!(err.to_string().contains("\"beep\""), "{err}");
}

#[test]
fn check_prompts_names_a_prompt_whose_file_is_gone_or_corrupt() {
    let dir = std::env::temp_dir().join(format!("hotline-ivr-prompts-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("zh-CN")).unwrap();
    std::fs::write(dir.join("zh-CN/bad.wav"), b"RIFF....not a wave").unwrap();
    let text = "[[prompt]]\nid = \"goodbye\"\nfile = \"zh-CN/goodbye.wav\"\ntext = \"再见\"\npinyin = \"zai4 jian4\"\n\
                [[prompt]]\nid = \"beep\"\nfile = \"zh-CN/bad.wav\"\ntext = \"（提示音）\"\nsynth = \"0.4 sine 1000\"\n";
    let catalog = PromptCatalog::parse(text, &dir).unwrap();
    let gone = check_prompt_ids(&catalog, &["goodbye"]).unwrap_err();
    assert_eq!(gone.id, "goodbye");
    assert!(matches!(gone.problem, PromptProblem::FileMissing(_)));
    let corrupt = check_prompt_ids(&catalog, &["beep"]).unwrap_err();
    assert_eq!(corrupt.id, "beep");
    assert!(
        matches!(corrupt.problem, PromptProblem::BadFile { .. }),
        "{corrupt}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prepare_refuses_to_start_naming_the_missing_prompt() {
    let dir = std::env::temp_dir().join(format!("hotline-ivr-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(catalog_path()).unwrap();
    // A catalog whose files are all elsewhere except that it lacks `goodbye`.
    let prompts_dir = catalog_path().parent().unwrap().to_owned();
    let moved = text
        .replace(
            "file = \"zh-CN/",
            &format!("file = \"{}/zh-CN/", prompts_dir.display()),
        )
        .replace("id = \"goodbye\"", "id = \"farewell\"");
    let toml_path = dir.join("prompts.toml");
    std::fs::write(&toml_path, moved).unwrap();
    let cfg = hotline_ivr::IvrConfig {
        voicemail_dir: dir.join("voicemail"),
        ..Default::default()
    };
    let err = hotline_ivr::prepare(&toml_path, &cfg).unwrap_err();
    assert!(
        matches!(&err, hotline_ivr::StartError::MissingPrompt(m) if m.id == "goodbye"),
        "{err}"
    );
    assert!(err.to_string().contains("\"goodbye\""), "{err}");

    // The shipped catalog starts.
    hotline_ivr::prepare(&catalog_path(), &cfg).unwrap();
    assert!(cfg.voicemail_dir.is_dir());
    std::fs::remove_dir_all(&dir).unwrap();
}
