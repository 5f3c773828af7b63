//! A fake graph driver: records its calls, answers from a catalog the
//! test sets.

use super::*;

#[derive(Default)]
pub(crate) struct FakeImages {
    pub(crate) rootfs: Mutex<Vec<String>>,
    pub(crate) calls: Mutex<Vec<String>>,
    /// Images `list` and `inspect` answer with, when set (else one
    /// busybox image): summaries and their RFC 3339 creation times.
    pub(crate) catalog: Mutex<Vec<(ImageSummary, String)>>,
    /// What `disk_usage` answers.
    pub(crate) usage: Mutex<berth_model::graph::DiskUsage>,
    /// Where `mount_rootfs` makes a container's (empty) root directory
    /// when set (a volume's copy-up reads it); else a path that does not
    /// exist.
    pub(crate) mount_root: Mutex<Option<PathBuf>>,
    /// Files `mount_rootfs` puts in the root it makes (path inside the
    /// root, content): the image's content a volume's copy-up finds.
    pub(crate) image_files: Mutex<Vec<(String, String)>>,
}

impl ImageService for FakeImages {
    fn driver_name(&self) -> String {
        "fake".into()
    }
    fn import(
        &self,
        mut source: Box<dyn Read + Send>,
        options: &crate::driver::ImportOptions,
    ) -> Result<String, JobError> {
        let mut data = Vec::new();
        source.read_to_end(&mut data).unwrap();
        self.calls
            .lock()
            .unwrap()
            .push(format!("import {} {}", options.repo, data.len()));
        Ok("sha256:imported".into())
    }
    fn list(&self) -> Result<Vec<ImageSummary>, JobError> {
        let catalog = self.catalog.lock().unwrap();
        if !catalog.is_empty() {
            return Ok(catalog.iter().map(|(s, _)| s.clone()).collect());
        }
        Ok(vec![ImageSummary {
            id: "sha256:feed".into(),
            repo_tags: vec!["busybox:latest".into()],
            ..Default::default()
        }])
    }
    fn inspect(&self, name: &str) -> Result<ImageInspect, JobError> {
        let catalog = self.catalog.lock().unwrap();
        if !catalog.is_empty() {
            let (summary, created) = catalog
                .iter()
                .find(|(s, _)| {
                    s.id == name
                        || s.repo_tags
                            .iter()
                            .any(|t| t == name || t.strip_suffix(":latest") == Some(name))
                })
                .ok_or_else(|| JobError::not_found(format!("No such image: {name}")))?;
            return Ok(ImageInspect {
                id: summary.id.clone(),
                repo_tags: summary.repo_tags.clone(),
                created: created.clone(),
                ..Default::default()
            });
        }
        if name != "busybox" {
            return Err(JobError::not_found(format!("No such image: {name}")));
        }
        Ok(ImageInspect {
            id: "sha256:feed".into(),
            config: Config {
                cmd: Some(vec!["sh".into()]),
                env: vec!["PATH=/bin".into()],
                ..Default::default()
            },
            ..Default::default()
        })
    }
    fn tag(&self, _: &str, _: &str, _: &str) -> Result<(), JobError> {
        Ok(())
    }
    fn remove(&self, name: &str, _: bool) -> Result<Vec<ImageDeleteItem>, JobError> {
        self.calls.lock().unwrap().push(format!("remove {name}"));
        Ok(vec![ImageDeleteItem::Untagged(name.into())])
    }
    fn create_rootfs(&self, id: &str, _: &str) -> Result<(), JobError> {
        self.rootfs.lock().unwrap().push(id.to_owned());
        Ok(())
    }
    fn mount_rootfs(&self, id: &str) -> Result<PathBuf, JobError> {
        self.calls.lock().unwrap().push(format!("mount {id}"));
        if let Some(root) = &*self.mount_root.lock().unwrap() {
            std::fs::create_dir_all(root.join(id)).unwrap();
            for (path, content) in &*self.image_files.lock().unwrap() {
                let file = root.join(id).join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, content).unwrap();
            }
            return Ok(root.join(id));
        }
        Ok(PathBuf::from("/fake/rootfs").join(id))
    }
    fn unmount_rootfs(&self, id: &str) -> Result<(), JobError> {
        self.calls.lock().unwrap().push(format!("unmount {id}"));
        Ok(())
    }
    fn remove_rootfs(&self, id: &str) -> Result<(), JobError> {
        self.rootfs.lock().unwrap().retain(|r| r != id);
        Ok(())
    }
    fn disk_usage(&self) -> Result<berth_model::graph::DiskUsage, JobError> {
        self.calls.lock().unwrap().push("disk_usage".into());
        Ok(self.usage.lock().unwrap().clone())
    }
    fn changes(&self, id: &str) -> Result<Vec<berth_api::container::FilesystemChange>, JobError> {
        self.calls.lock().unwrap().push(format!("changes {id}"));
        Ok(vec![berth_api::container::FilesystemChange {
            path: "/etc/hosts".into(),
            kind: 0,
        }])
    }
    fn path_stat(
        &self,
        fs: &berth_model::files::ContainerFs,
        container: &str,
        path: &str,
    ) -> Result<berth_model::files::PathStat, JobError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("stat {} {container} {path}", fs.root.display()));
        Ok(fake_stat(path))
    }
    fn archive_path(
        &self,
        fs: &berth_model::files::ContainerFs,
        container: &str,
        path: &str,
        on_stat: &mut dyn FnMut(&berth_model::files::PathStat) -> std::io::Result<()>,
        out: &mut dyn std::io::Write,
    ) -> Result<(), JobError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("archive {} {container} {path}", fs.root.display()));
        on_stat(&fake_stat(path)).unwrap();
        out.write_all(b"tar bytes").unwrap();
        Ok(())
    }
    fn extract_to_dir(
        &self,
        fs: &berth_model::files::ContainerFs,
        container: &str,
        path: &str,
        options: &berth_model::files::ExtractOptions,
        input: &mut dyn Read,
    ) -> Result<(), JobError> {
        let mut data = Vec::new();
        input.read_to_end(&mut data).unwrap();
        let mounts: Vec<String> = fs
            .mounts
            .iter()
            .map(|m| format!("{}={:?}", m.destination.display(), m.source))
            .collect();
        self.calls.lock().unwrap().push(format!(
            "extract {} {container} {path} {} {:?} {} [{}]",
            fs.root.display(),
            data.len(),
            options.copy_uid_gid,
            options.no_overwrite_dir_non_dir,
            mounts.join(",")
        ));
        Ok(())
    }
    fn load(
        &self,
        mut source: Box<dyn Read + Send>,
    ) -> Result<crate::driver::LoadReport, JobError> {
        let mut data = Vec::new();
        source.read_to_end(&mut data).unwrap();
        self.calls
            .lock()
            .unwrap()
            .push(format!("load {}", data.len()));
        if data.starts_with(b"bad") {
            return Err(JobError::invalid(
                "invalid image archive: not a tar archive",
            ));
        }
        Ok(crate::driver::LoadReport {
            images: vec![
                crate::driver::LoadedImage {
                    id: "sha256:aaaa".into(),
                    tags: vec!["app:1".into(), "app:2".into()],
                },
                crate::driver::LoadedImage {
                    id: "sha256:bbbb".into(),
                    tags: vec![],
                },
            ],
            warnings: vec![],
        })
    }
    fn commit(&self, request: &crate::driver::CommitRequest) -> Result<String, JobError> {
        self.calls.lock().unwrap().push(format!(
            "commit {} {}:{} {:?} {:?} {}",
            request.container_id,
            request.repo,
            request.tag,
            request.changes,
            request.defaults.cmd,
            request.created_by
        ));
        Ok("sha256:committed".into())
    }
    fn save(&self, names: &[String], out: &mut dyn std::io::Write) -> Result<(), JobError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("save {}", names.join(",")));
        if names.iter().any(|n| n == "nope") {
            return Err(JobError::not_found("No such image: nope"));
        }
        out.write_all(&vec![b't'; 200 * 1024]).unwrap();
        Ok(())
    }
    fn history(&self, name: &str) -> Result<Vec<crate::driver::HistoryEntry>, JobError> {
        self.calls.lock().unwrap().push(format!("history {name}"));
        if name != "busybox" {
            return Err(JobError::not_found(format!("No such image: {name}")));
        }
        Ok(vec![
            crate::driver::HistoryEntry {
                id: "sha256:feed".into(),
                created: 2,
                created_by: "RUN x".into(),
                tags: vec!["busybox:latest".into()],
                size: 10,
                comment: "c".into(),
            },
            crate::driver::HistoryEntry {
                id: "<missing>".into(),
                created: 1,
                created_by: "ADD rootfs".into(),
                tags: vec![],
                size: 0,
                comment: String::new(),
            },
        ])
    }
}

pub(crate) fn fake_stat(path: &str) -> berth_model::files::PathStat {
    berth_model::files::PathStat {
        name: path.rsplit('/').next().unwrap_or_default().to_owned(),
        size: 9,
        mode: 0o644,
        mtime: "2024-01-01T00:00:00Z".into(),
        link_target: String::new(),
    }
}
