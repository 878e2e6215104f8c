//! Prompts: 8 kHz mono 16-bit WAV files decoded once (hound) into a shared cache, with the
//! G.711 encoding of each codec computed once and shared by every leg (RFC 3551 §4.5.14).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::g711;
use crate::sdp::Codec;

/// Why a prompt could not be loaded. Always names the file.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// Missing, unreadable or not a WAV file.
    #[error("prompt {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// hound's error.
        #[source]
        source: hound::Error,
    },
    /// A WAV, but not 8 kHz mono 16-bit PCM.
    #[error("prompt {path}: {reason} (need 8 kHz mono 16-bit PCM)")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug)]
struct PromptInner {
    name: String,
    samples: Arc<[i16]>,
    pcmu: OnceLock<Arc<[u8]>>,
    pcma: OnceLock<Arc<[u8]>>,
}

/// A decoded prompt; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Prompt(Arc<PromptInner>);

impl Prompt {
    /// A prompt from samples already in memory (generated tones, tests).
    pub fn from_samples(name: impl Into<String>, samples: Vec<i16>) -> Self {
        Prompt(Arc::new(PromptInner {
            name: name.into(),
            samples: samples.into(),
            pcmu: OnceLock::new(),
            pcma: OnceLock::new(),
        }))
    }

    /// Loads and validates a WAV file.
    pub fn load(path: &Path) -> Result<Self, PromptError> {
        let read_err = |source| PromptError::Read {
            path: path.to_owned(),
            source,
        };
        let reader = hound::WavReader::open(path).map_err(read_err)?;
        let spec = reader.spec();
        if spec.sample_rate != 8000
            || spec.channels != 1
            || spec.bits_per_sample != 16
            || spec.sample_format != hound::SampleFormat::Int
        {
            return Err(PromptError::Format {
                path: path.to_owned(),
                reason: format!(
                    "{} Hz, {} channel(s), {}-bit {:?}",
                    spec.sample_rate, spec.channels, spec.bits_per_sample, spec.sample_format
                ),
            });
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_err)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self::from_samples(name, samples))
    }

    /// Name (file stem for loaded prompts).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Linear samples.
    pub fn samples(&self) -> &Arc<[i16]> {
        &self.0.samples
    }

    /// Duration at 8 kHz.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.0.samples.len() as u64 * 125)
    }

    /// The G.711 encoding for `codec`, computed on first use and shared.
    pub fn encoded(&self, codec: Codec) -> &Arc<[u8]> {
        let (cell, f): (_, fn(i16) -> u8) = match codec {
            Codec::Pcmu => (&self.0.pcmu, g711::ulaw_encode),
            Codec::Pcma => (&self.0.pcma, g711::alaw_encode),
        };
        cell.get_or_init(|| self.0.samples.iter().map(|s| f(*s)).collect())
    }
}

/// Prompts by id, loaded from a directory (`<dir>/<id>.wav`) on first use.
#[derive(Debug)]
pub struct PromptCache {
    dir: PathBuf,
    prompts: Mutex<HashMap<String, Prompt>>,
}

impl PromptCache {
    /// A cache over `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PromptCache {
            dir: dir.into(),
            prompts: Mutex::new(HashMap::new()),
        }
    }

    /// The prompt `id` (file `<dir>/<id>.wav`), decoded once.
    pub fn get(&self, id: &str) -> Result<Prompt, PromptError> {
        if let Some(p) = self.lock().get(id) {
            return Ok(p.clone());
        }
        let path = self.dir.join(format!("{id}.wav"));
        if id.is_empty() || id.contains(['/', '\\']) || id.contains("..") {
            return Err(PromptError::Format {
                path,
                reason: "prompt id must be a plain file stem".to_owned(),
            });
        }
        let prompt = Prompt::load(&path)?;
        // Two loaders may race; both results are equal, keep the first.
        Ok(self.lock().entry(id.to_owned()).or_insert(prompt).clone())
    }

    /// Adds a prompt built in memory.
    pub fn insert(&self, id: &str, prompt: Prompt) {
        self.lock().insert(id.to_owned(), prompt);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Prompt>> {
        self.prompts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hotline-media-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir.join(name)
    }

    pub(crate) fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn cache_loads_once_and_encodes() {
        let dir = temp_path("prompts-a");
        std::fs::create_dir_all(&dir).unwrap();
        write_wav(&dir.join("hello.wav"), 8000, 1, &[0, 1000, -1000, 0]);
        let cache = PromptCache::new(&dir);
        let a = cache.get("hello").unwrap();
        let b = cache.get("hello").unwrap();
        assert!(Arc::ptr_eq(a.samples(), b.samples()));
        assert_eq!(&a.samples()[..], &[0, 1000, -1000, 0]);
        assert_eq!(&a.encoded(Codec::Pcmu)[..], &[0xFF, 0xCE, 0x4E, 0xFF]);
        assert!(Arc::ptr_eq(a.encoded(Codec::Pcma), b.encoded(Codec::Pcma)));
        assert_eq!(a.duration(), Duration::from_micros(500));
    }

    #[test]
    fn missing_corrupt_and_wrong_format_name_the_file() {
        let dir = temp_path("prompts-b");
        std::fs::create_dir_all(&dir).unwrap();
        let cache = PromptCache::new(&dir);
        let e = cache.get("nope").unwrap_err();
        assert!(matches!(e, PromptError::Read { .. }));
        assert!(e.to_string().contains("nope.wav"), "{e}");

        std::fs::write(dir.join("junk.wav"), b"RIFF\x10\0\0\0WAVEjunkjunk").unwrap();
        let e = cache.get("junk").unwrap_err();
        assert!(e.to_string().contains("junk.wav"), "{e}");

        assert!(matches!(
            cache.get("../etc/passwd"),
            Err(PromptError::Format { .. })
        ));

        write_wav(&dir.join("cd.wav"), 44100, 2, &[0, 0]);
        let e = cache.get("cd").unwrap_err();
        assert!(matches!(e, PromptError::Format { .. }), "{e}");
        assert!(e.to_string().contains("cd.wav") && e.to_string().contains("44100"));
    }
}
