//! [`FsStore`]: objects as files under a root directory, `<root>/ab/cdef…`.

use crate::{Digest, DocStoreError, DocumentStore, ObjectWriter, Result, Stored};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The filesystem document store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating when missing) the store at `root`; temp files a crash left in
    /// `<root>/tmp` are removed.
    pub async fn open(root: impl Into<PathBuf>) -> Result<FsStore> {
        let root = root.into();
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(DocStoreError::io(format!("creating {}", tmp.display())))?;
        let mut dir = tokio::fs::read_dir(&tmp)
            .await
            .map_err(DocStoreError::io(format!("listing {}", tmp.display())))?;
        while let Ok(Some(e)) = dir.next_entry().await {
            let _ = tokio::fs::remove_file(e.path()).await;
        }
        Ok(FsStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where an object lives: built from the digest's hex only, so always inside the root.
    pub fn path_of(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join(&hex[..2]).join(&hex[2..])
    }
}

struct FsWriter {
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    target_of: FsStore,
    hasher: Sha256,
    written: u64,
    done: bool,
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        if !self.done {
            // an abandoned upload leaves nothing behind
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[async_trait::async_trait]
impl ObjectWriter for FsWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(chunk)
            .await
            .map_err(DocStoreError::io(format!("writing {}", self.tmp.display())))?;
        self.hasher.update(chunk);
        self.written += chunk.len() as u64;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<Stored> {
        let mut file = self.file.take().expect("finish is called once");
        let what = format!("syncing {}", self.tmp.display());
        file.flush().await.map_err(DocStoreError::io(&what))?;
        file.sync_all().await.map_err(DocStoreError::io(&what))?;
        drop(file);
        let digest = Digest(std::mem::take(&mut self.hasher).finalize().into());
        let target = self.target_of.path_of(&digest);
        let size = self.written;
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            // same bytes already stored: content addressing makes this a no-op
            let _ = tokio::fs::remove_file(&self.tmp).await;
            self.done = true;
            return Ok(Stored {
                digest,
                size,
                created: false,
            });
        }
        let parent = target
            .parent()
            .expect("objects have a parent dir")
            .to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(DocStoreError::io(format!("creating {}", parent.display())))?;
        tokio::fs::rename(&self.tmp, &target)
            .await
            .map_err(DocStoreError::io(format!(
                "renaming into {}",
                target.display()
            )))?;
        self.done = true;
        // the rename is durable once the directory entry is
        if let Ok(d) = tokio::fs::File::open(&parent).await {
            let _ = d.sync_all().await;
        }
        tracing::debug!(%digest, size, "object stored");
        Ok(Stored {
            digest,
            size,
            created: true,
        })
    }
}

#[async_trait::async_trait]
impl DocumentStore for FsStore {
    async fn begin(&self) -> Result<Box<dyn ObjectWriter>> {
        let tmp = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
            .map_err(DocStoreError::io(format!("creating {}", tmp.display())))?;
        Ok(Box::new(FsWriter {
            file: Some(file),
            tmp,
            target_of: self.clone(),
            hasher: Sha256::new(),
            written: 0,
            done: false,
        }))
    }

    async fn get(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.path_of(digest);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DocStoreError::NotFound(*digest));
            }
            Err(e) => return Err(DocStoreError::io(format!("reading {}", path.display()))(e)),
        };
        let actual = Digest::of(&bytes);
        if actual != *digest {
            tracing::error!(%digest, %actual, "stored object is corrupt");
            return Err(DocStoreError::Corrupt {
                digest: *digest,
                actual,
            });
        }
        Ok(bytes)
    }

    async fn contains(&self, digest: &Digest) -> Result<bool> {
        tokio::fs::try_exists(self.path_of(digest))
            .await
            .map_err(DocStoreError::io("checking an object"))
    }

    async fn remove(&self, digest: &Digest) -> Result<bool> {
        match tokio::fs::remove_file(self.path_of(digest)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(DocStoreError::io(format!("removing {digest}"))(e)),
        }
    }
}
