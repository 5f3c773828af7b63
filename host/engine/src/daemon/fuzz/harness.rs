//! The daemon the property tests create containers on: the real create
//! job over fake drivers that hold one image and run nothing.

use super::*;

fn image() -> ImageInspect {
    ImageInspect {
        id: "sha256:feed".into(),
        config: Config {
            cmd: Some(vec!["sh".into()]),
            env: vec!["PATH=/bin".into()],
            working_dir: "/".into(),
            ..Config::default()
        },
        ..ImageInspect::default()
    }
}

/// One image, `busybox`; rootfs creation always works.
struct Images;

impl ImageService for Images {
    fn driver_name(&self) -> String {
        "fake".into()
    }
    fn import(
        &self,
        _: Box<dyn std::io::Read + Send>,
        _: &crate::driver::ImportOptions,
    ) -> Result<String, JobError> {
        Err(JobError::invalid("not in the fake"))
    }
    fn list(&self) -> Result<Vec<ImageSummary>, JobError> {
        Ok(Vec::new())
    }
    fn inspect(&self, name: &str) -> Result<ImageInspect, JobError> {
        if name == IMAGE {
            Ok(image())
        } else {
            Err(JobError::not_found(format!("No such image: {name}")))
        }
    }
    fn tag(&self, _: &str, _: &str, _: &str) -> Result<(), JobError> {
        Ok(())
    }
    fn remove(&self, _: &str, _: bool) -> Result<Vec<ImageDeleteItem>, JobError> {
        Ok(Vec::new())
    }
    fn create_rootfs(&self, _: &str, _: &str) -> Result<(), JobError> {
        Ok(())
    }
    fn mount_rootfs(&self, id: &str) -> Result<PathBuf, JobError> {
        Ok(PathBuf::from("/fake").join(id))
    }
    fn unmount_rootfs(&self, _: &str) -> Result<(), JobError> {
        Ok(())
    }
    fn remove_rootfs(&self, _: &str) -> Result<(), JobError> {
        Ok(())
    }
    fn disk_usage(&self) -> Result<berth_model::graph::DiskUsage, JobError> {
        Err(JobError::invalid("no store"))
    }
    fn changes(&self, _: &str) -> Result<Vec<berth_api::container::FilesystemChange>, JobError> {
        Err(JobError::invalid("no store"))
    }
    fn path_stat(
        &self,
        _: &berth_model::files::ContainerFs,
        _: &str,
        _: &str,
    ) -> Result<berth_model::files::PathStat, JobError> {
        Err(JobError::invalid("no store"))
    }
    fn archive_path(
        &self,
        _: &berth_model::files::ContainerFs,
        _: &str,
        _: &str,
        _: &mut dyn FnMut(&berth_model::files::PathStat) -> std::io::Result<()>,
        _: &mut dyn std::io::Write,
    ) -> Result<(), JobError> {
        Err(JobError::invalid("no store"))
    }
    fn extract_to_dir(
        &self,
        _: &berth_model::files::ContainerFs,
        _: &str,
        _: &str,
        _: &berth_model::files::ExtractOptions,
        _: &mut dyn std::io::Read,
    ) -> Result<(), JobError> {
        Err(JobError::invalid("no store"))
    }
    fn load(
        &self,
        _: Box<dyn std::io::Read + Send>,
    ) -> Result<crate::driver::LoadReport, JobError> {
        Err(JobError::invalid("no store"))
    }
    fn history(&self, _: &str) -> Result<Vec<crate::driver::HistoryEntry>, JobError> {
        Err(JobError::invalid("no store"))
    }
    fn save(&self, _: &[String], _: &mut dyn std::io::Write) -> Result<(), JobError> {
        Err(JobError::invalid("no store"))
    }
    fn commit(&self, _: &crate::driver::CommitRequest) -> Result<String, JobError> {
        Err(JobError::invalid("no store"))
    }
}

/// A runtime that accepts every configuration and runs nothing: create
/// never reaches the rest.
struct NoRuntime;

fn refused<T: Send + 'static>() -> BoxFuture<Result<T, JobError>> {
    Box::pin(async { Err(JobError::conflict("not in the fake")) })
}

impl ExecService for NoRuntime {
    fn files(&self, id: &str) -> ContainerFiles {
        let dir = Path::new("/fake/containers").join(id);
        ContainerFiles {
            log: dir.join("log"),
            hostname: dir.join("hostname"),
            hosts: dir.join("hosts"),
            resolv_conf: dir.join("resolv.conf"),
        }
    }
    fn validate(&self, _: &berth_model::container::ContainerModel) -> Result<(), JobError> {
        Ok(())
    }
    fn start(&self, _: StartRequest) -> BoxFuture<Result<Started, JobError>> {
        refused()
    }
    fn wait(&self, _: &str) -> BoxFuture<Result<ExitRecord, JobError>> {
        refused()
    }
    fn kill(&self, _: &str, _: i32) -> BoxFuture<Result<(), JobError>> {
        refused()
    }
    fn attach(&self, _: &str, _: AttachOptions) -> BoxFuture<Result<AttachStreams, JobError>> {
        refused()
    }
    fn resize(&self, _: &str, _: u16, _: u16) -> BoxFuture<Result<(), JobError>> {
        refused()
    }
    fn processes(&self, _: &str) -> BoxFuture<Result<Vec<u32>, JobError>> {
        refused()
    }
    fn stats(&self, _: &str) -> Result<Option<berth_model::stats::ResourceSample>, JobError> {
        Err(JobError::conflict("not in the fake"))
    }
    fn pause(&self, _: &str) -> BoxFuture<Result<(), JobError>> {
        refused()
    }
    fn resume(&self, _: &str) -> BoxFuture<Result<(), JobError>> {
        refused()
    }
    fn logs(
        &self,
        _: &str,
        _: LogOptions,
    ) -> BoxFuture<Result<tokio::sync::mpsc::Receiver<LogRecord>, JobError>> {
        refused()
    }
    fn remove(&self, _: &str) -> BoxFuture<Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
    fn restore(&self, _: &str) -> BoxFuture<Result<RunState, JobError>> {
        refused()
    }
    fn exec(
        &self,
        _: &str,
        _: &str,
        _: &berth_model::container::ContainerModel,
        _: &berth_model::exec_process::ExecProcessConfig,
    ) -> BoxFuture<Result<crate::driver::ExecLaunch, JobError>> {
        refused()
    }
    fn update(
        &self,
        _: &str,
        _: berth_model::container::ContainerModel,
        _: berth_model::container::ContainerModel,
    ) -> BoxFuture<Result<(), JobError>> {
        refused()
    }
    fn resize_exec(&self, _: &str, _: &str, _: u16, _: u16) -> BoxFuture<Result<(), JobError>> {
        refused()
    }
    fn kill_exec(&self, _: &str, _: &str, _: i32) -> BoxFuture<Result<bool, JobError>> {
        refused()
    }
    fn update_resolver(
        &self,
        _: &str,
        _: &berth_model::dns::DnsConfig,
        _: &berth_model::dns::Resolver,
        _: &berth_model::dns::Resolver,
    ) -> Result<bool, JobError> {
        Err(JobError::conflict("not in the fake"))
    }
}

/// A daemon on fake drivers with the real job handlers.
pub(super) struct Fixture {
    pub(super) dir: tempfile::TempDir,
    pub(super) daemon: Arc<Daemon>,
    pub(super) engine: Arc<Engine>,
    pub(super) store: Store,
    pub(super) sysinfo: SysInfo,
}

pub(super) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_in(dir.path()).expect("store");
    let engine = Engine::new();
    // What this machine's tests see: two CPUs, one memory node, no
    // CAP_SYS_RESOURCE, a hard nofile limit.
    let sysinfo = SysInfo {
        cgroups: berth_model::host::CgroupFeatures {
            cpus: "0-1".into(),
            mems: "0".into(),
            ..SysInfo::default().cgroups
        },
        ncpu: 2,
        cap_sys_resource: false,
        hard_rlimits: [("nofile".to_owned(), 4096)].into_iter().collect(),
        ..SysInfo::default()
    };
    let daemon = Daemon::new(
        DaemonConfig {
            data_root: dir.path().to_owned(),
            exec_root: dir.path().join("exec"),
            sysinfo: sysinfo.clone(),
            start_timeout: crate::daemon::DEFAULT_START_TIMEOUT,
            default_bridge: Default::default(),
            default_ipv6_pool: crate::daemon::ipam::default_ipv6_pool("test-engine"),
        },
        store.clone(),
        Arc::new(Images),
        Arc::new(NoRuntime),
        Arc::clone(engine.events()),
    );
    handlers::register_all(&engine, &daemon, handlers::SystemFacts::default());
    Fixture {
        dir,
        daemon,
        engine,
        store,
        sysinfo,
    }
}

impl Fixture {
    pub(super) fn containers_dir(&self) -> PathBuf {
        self.dir.path().join("containers")
    }

    pub(super) fn container_dirs(&self) -> usize {
        std::fs::read_dir(self.containers_dir()).map_or(0, |d| d.count())
    }

    pub(super) fn records(&self) -> Vec<(String, ContainerRecord)> {
        self.store.list(CONTAINERS).expect("list records")
    }

    /// Runs the `container_create` job on `body`, as the HTTP edge does.
    pub(super) async fn create(&self, body: Vec<u8>) -> Result<CreateResponse, JobError> {
        let (job, streams) = Job::new("container_create");
        let handle = self.engine.spawn(job.stdin(Cursor::new(body)));
        let out = streams.stdout.collect().await;
        handle.await.expect("the job does not panic")?;
        Ok(serde_json::from_slice(&out).expect("a CreateResponse"))
    }

    pub(super) fn build(
        &self,
        request: CreateRequest,
        id: &str,
    ) -> Result<crate::daemon::spec::ContainerSpec, JobError> {
        ContainerSpecBuilder::new(request, image(), id)
            .sysinfo(&self.sysinfo)
            .build()
    }
}
