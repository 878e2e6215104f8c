//! Compiles `proto/hotline/v1/*.proto` with protox (pure Rust, no system protoc) and writes the
//! encoded descriptor set next to the generated code for gRPC reflection.

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "hotline/v1/tickets.proto",
        "hotline/v1/agents.proto",
        "hotline/v1/voicemail.proto",
        "hotline/v1/queue.proto",
        "hotline/v1/intake.proto",
        "hotline/v1/kb.proto",
        "hotline/v1/report.proto",
        "hotline/v1/qa.proto",
        "hotline/v1/survey.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("hotline_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
