//! Incremental WAV writing (RIFF/WAVE, 8 kHz mono 16-bit PCM via hound) with periodic header
//! updates so a crash leaves a playable file, and [`repair_wav`] to fix the RIFF and `data`
//! chunk sizes of a file whose writer died.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Header sizes are rewritten after this many samples (1 s).
pub const FLUSH_EVERY_SAMPLES: u32 = 8000;

/// WAV I/O errors, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// hound failed.
    #[error("WAV {path}: {source}")]
    Hound {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: hound::Error,
    },
    /// Plain I/O failed.
    #[error("WAV {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Not a RIFF/WAVE file we can repair.
    #[error("WAV {path}: cannot repair: {reason}")]
    NotRepairable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
}

/// The 8 kHz mono 16-bit spec used for prompts and recordings.
pub fn telephone_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Where recorded samples go. The file implementation is [`WavFileSink`]; tests use memory.
pub trait SampleSink {
    /// Appends samples.
    fn write(&mut self, samples: &[i16]) -> Result<(), WavError>;
    /// Completes the file (`keep`) or deletes it (`!keep`).
    fn finish(self: Box<Self>, keep: bool) -> Result<(), WavError>;
}

/// A WAV file written incrementally; its header is valid after every second of audio.
pub struct WavFileSink {
    path: PathBuf,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    since_flush: u32,
}

impl std::fmt::Debug for WavFileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavFileSink")
            .field("path", &self.path)
            .finish()
    }
}

impl WavFileSink {
    /// Creates (truncates) the file and writes a valid empty header.
    pub fn create(path: &Path) -> Result<Self, WavError> {
        let hound_err = |source| WavError::Hound {
            path: path.to_owned(),
            source,
        };
        let mut writer = hound::WavWriter::create(path, telephone_spec()).map_err(hound_err)?;
        // Put the header on disk now: a crash before the first second leaves a valid empty WAV,
        // not a 0-byte file.
        writer.flush().map_err(hound_err)?;
        Ok(WavFileSink {
            path: path.to_owned(),
            writer: Some(writer),
            since_flush: 0,
        })
    }

    fn err(&self, source: hound::Error) -> WavError {
        WavError::Hound {
            path: self.path.clone(),
            source,
        }
    }
}

impl SampleSink for WavFileSink {
    fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut res = Ok(());
        for s in samples {
            if let Err(e) = w.write_sample(*s) {
                res = Err(e);
                break;
            }
        }
        self.since_flush += samples.len() as u32;
        if res.is_ok() && self.since_flush >= FLUSH_EVERY_SAMPLES {
            self.since_flush = 0;
            res = w.flush();
        }
        res.map_err(|e| self.err(e))
    }

    fn finish(mut self: Box<Self>, keep: bool) -> Result<(), WavError> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        let res = w.finalize().map_err(|e| self.err(e));
        if !keep {
            return std::fs::remove_file(&self.path).map_err(|source| WavError::Io {
                path: self.path.clone(),
                source,
            });
        }
        res
    }
}

/// Fixes the RIFF size and the `data` chunk size of a WAV file whose writer died, so that the
/// samples on disk become playable. A trailing odd byte of a partial sample is cut off.
/// Returns the number of data bytes in the repaired file.
pub fn repair_wav(path: &Path) -> Result<u32, WavError> {
    let io_err = |source| WavError::Io {
        path: path.to_owned(),
        source,
    };
    let not = |reason| WavError::NotRepairable {
        path: path.to_owned(),
        reason,
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    let mut head = [0u8; 12];
    f.read_exact(&mut head)
        .map_err(|_| not("shorter than a RIFF header"))?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(not("not RIFF/WAVE"));
    }
    // Walk the chunks to the data chunk.
    let mut pos: u64 = 12;
    let mut block_align: u64 = 2;
    loop {
        let mut ch = [0u8; 8];
        f.seek(SeekFrom::Start(pos)).map_err(io_err)?;
        f.read_exact(&mut ch).map_err(|_| not("no data chunk"))?;
        let size = u64::from(u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]));
        if &ch[0..4] == b"fmt " {
            let mut fmt = [0u8; 16];
            f.read_exact(&mut fmt)
                .map_err(|_| not("truncated fmt chunk"))?;
            block_align = u64::from(u16::from_le_bytes([fmt[12], fmt[13]])).max(1);
        }
        if &ch[0..4] == b"data" {
            let data_start = pos + 8;
            let mut data_len = len.saturating_sub(data_start);
            data_len -= data_len % block_align;
            let data_len = u32::try_from(data_len).map_err(|_| not("larger than 4 GiB"))?;
            let riff = u32::try_from(data_start - 8 + u64::from(data_len))
                .map_err(|_| not("larger than 4 GiB"))?;
            f.set_len(data_start + u64::from(data_len))
                .map_err(io_err)?;
            f.seek(SeekFrom::Start(4)).map_err(io_err)?;
            f.write_all(&riff.to_le_bytes()).map_err(io_err)?;
            f.seek(SeekFrom::Start(pos + 4)).map_err(io_err)?;
            f.write_all(&data_len.to_le_bytes()).map_err(io_err)?;
            f.sync_all().map_err(io_err)?;
            return Ok(data_len);
        }
        pos += 8 + size + (size & 1);
        if pos >= len {
            return Err(not("no data chunk"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::tests::temp_path;

    fn read_back(path: &Path) -> Vec<i16> {
        hound::WavReader::open(path)
            .unwrap()
            .into_samples::<i16>()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn incremental_header_is_valid_while_writing() {
        let path = temp_path("incremental.wav");
        let mut sink = Box::new(WavFileSink::create(&path).unwrap());
        let samples: Vec<i16> = (0..12_000).map(|i| i as i16).collect();
        sink.write(&samples).unwrap();
        // Without finalize, a reader sees at least the flushed second of audio.
        let seen = read_back(&path);
        assert!(seen.len() >= 8000, "{}", seen.len());
        assert_eq!(&seen[..10], &samples[..10]);
        sink.finish(true).unwrap();
        assert_eq!(read_back(&path), samples);
    }

    #[test]
    fn discarded_file_is_removed() {
        let path = temp_path("discard.wav");
        let mut sink = Box::new(WavFileSink::create(&path).unwrap());
        sink.write(&[1, 2, 3]).unwrap();
        sink.finish(false).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn repair_after_writer_crash() {
        let path = temp_path("crash.wav");
        let samples: Vec<i16> = (0..5000).map(|i| (i * 3) as i16).collect();
        crate::prompt::tests::write_wav(&path, 8000, 1, &samples);
        // Simulate a writer that died right after creating the header: sizes are zero,
        // and half a sample is left at the end.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[4..8].copy_from_slice(&0u32.to_le_bytes());
        bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
        bytes.push(0x7F);
        std::fs::write(&path, &bytes).unwrap();
        let broken = hound::WavReader::open(&path).map(|r| r.len()).unwrap_or(0);
        assert_eq!(broken, 0, "hound sees no samples before repair");
        assert_eq!(repair_wav(&path).unwrap(), 10_000);
        assert_eq!(read_back(&path), samples);
        // Repairing a good file changes nothing.
        assert_eq!(repair_wav(&path).unwrap(), 10_000);
        assert_eq!(read_back(&path), samples);
    }

    #[test]
    fn repair_after_drop_without_flush() {
        let path = temp_path("crash2.wav");
        let mut sink = WavFileSink::create(&path).unwrap();
        sink.write(&[5; 100]).unwrap();
        // The process dies: nothing runs, not even hound's Drop.
        if let Some(w) = sink.writer.take() {
            std::mem::forget(w);
        }
        // Buffered samples were never written; the header written at creation is still there.
        assert_eq!(repair_wav(&path).unwrap(), 0);
        assert!(read_back(&path).is_empty());
    }

    #[test]
    fn repair_rejects_non_wav() {
        let path = temp_path("notwav.wav");
        std::fs::write(&path, b"hello world, not a wav").unwrap();
        assert!(matches!(
            repair_wav(&path),
            Err(WavError::NotRepairable { .. })
        ));
        std::fs::write(&path, b"RIFF").unwrap();
        assert!(matches!(
            repair_wav(&path),
            Err(WavError::NotRepairable { .. })
        ));
        let e = repair_wav(&temp_path("absent.wav")).unwrap_err();
        assert!(e.to_string().contains("absent.wav"));
    }
}
