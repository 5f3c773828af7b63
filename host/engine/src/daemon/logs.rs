//! `GET /containers/{id}/logs`: the exec driver's log records, framed for
//! the client.

use berth_api::container::LogDriver;

use crate::daemon::{Daemon, attach};
use crate::driver::stream_type;
use crate::job::{ErrorKind, JobError, JobOutput};

impl Daemon {
    /// `GET /containers/{id}/logs`.
    pub async fn logs(
        &self,
        reference: &str,
        options: crate::driver::LogOptions,
        timestamps: bool,
        out: &JobOutput,
    ) -> Result<(), JobError> {
        if !options.stdout && !options.stderr {
            return Err(JobError::invalid(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        let container = self.containers.get(reference)?;
        let (tty, log_driver) = {
            let inner = container.lock();
            (
                inner.record.config.tty,
                inner.record.host_config.log_config.driver(),
            )
        };
        if log_driver == Ok(LogDriver::None) {
            // moby `logger.ErrReadLogsNotSupported`.
            return Err(JobError::new(
                ErrorKind::NotImplemented,
                "configured logging driver does not support reading",
            ));
        }
        let mut records = self.runtime.logs(&container.id, options).await?;
        out.begin(Some(if tty {
            berth_api::stream::RAW
        } else {
            berth_api::stream::MULTIPLEXED
        }))
        .await?;
        while let Some(record) = records.recv().await {
            let data = if timestamps {
                let time = record.time.to_rfc3339_nano_fixed();
                let mut line = Vec::with_capacity(time.len() + 1 + record.data.len());
                line.extend_from_slice(time.as_bytes());
                line.push(b' ');
                line.extend_from_slice(&record.data);
                bytes::Bytes::from(line)
            } else {
                record.data
            };
            out.write(attach::encode(stream_type(record.stream), &data, tty))
                .await?;
        }
        Ok(())
    }
}
