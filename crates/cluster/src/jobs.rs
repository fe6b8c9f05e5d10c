//! The jobs this process has sent to a cluster: what the scheduler says of the latest (for a
//! progress line) and cancelling them all (for Ctrl-C). Ballista's client neither reports a
//! job's progress nor cancels a job whose stream is dropped, so a client interrupted mid-job
//! would leave it running on the executors; [`cancel_all`] asks the scheduler (`CancelJob`).
//!
//! Every distributed plan the client session makes is kept here (`client::Planner` registers
//! it); its job id is known once the scheduler has accepted the job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{CancelJobParams, GetJobStatusParams, job_status};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::protobuf::LogicalPlanNode;

/// A distributed plan and the scheduler it goes to.
struct Sent {
    scheduler: String,
    plan: Arc<dyn ExecutionPlan>,
}

static SENT: Mutex<Vec<Sent>> = Mutex::new(Vec::new());

/// How many sent plans are kept.
const MAX_KEPT: usize = 64;

/// How long a call to the scheduler may take here: a progress line or an interrupt must not
/// hang on a scheduler that went away.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Records `plan` (the physical plan Ballista's planner made) as sent to `scheduler` (its URL).
pub(crate) fn record(scheduler: &str, plan: &Arc<dyn ExecutionPlan>) {
    if plan
        .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
        .is_some()
    {
        let mut sent = SENT.lock().unwrap_or_else(|e| e.into_inner());
        // A long-lived process (a server) keeps only the latest: those running now.
        if sent.len() >= MAX_KEPT {
            sent.remove(0);
        }
        sent.push(Sent {
            scheduler: scheduler.to_string(),
            plan: plan.clone(),
        });
    }
}

/// The job ids the schedulers gave the plans sent so far, with their scheduler's URL.
fn job_ids() -> Vec<(String, String)> {
    let sent = SENT.lock().unwrap_or_else(|e| e.into_inner());
    sent.iter()
        .filter_map(|s| {
            let exec = s
                .plan
                .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()?;
            Some((s.scheduler.clone(), exec.job_id()?.to_string()))
        })
        .collect()
}

/// What the scheduler says of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobProgress {
    pub job_id: String,
    /// queued, running, failed, done (or "starting" before the scheduler knows it).
    pub state: &'static str,
    /// Since when it has run on the executors (from the scheduler's clock), when it runs.
    pub running_for: Option<Duration>,
}

/// A client of the scheduler at `url`, or `None` when it cannot be reached.
async fn scheduler(url: String) -> Option<SchedulerGrpcClient<tonic::transport::Channel>> {
    let endpoint = ballista_core::utils::create_grpc_client_endpoint(url, None).ok()?;
    Some(SchedulerGrpcClient::new(endpoint.connect().await.ok()?))
}

/// The latest job sent, as its scheduler tells it now; `None` before any job has an id or
/// when the scheduler does not answer in time.
pub async fn latest() -> Option<JobProgress> {
    let (url, job_id) = job_ids().pop()?;
    let ask = async {
        scheduler(url)
            .await?
            .get_job_status(GetJobStatusParams {
                job_id: job_id.clone(),
            })
            .await
            .ok()
    };
    let status = tokio::time::timeout(CALL_TIMEOUT, ask)
        .await
        .ok()??
        .into_inner()
        .status
        .and_then(|s| s.status);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (state, running_for) = match status {
        None => ("starting", None),
        Some(job_status::Status::Queued(_)) => ("queued", None),
        Some(job_status::Status::Running(r)) => (
            "running",
            Some(Duration::from_millis(now_ms.saturating_sub(r.started_at))),
        ),
        Some(job_status::Status::Failed(_)) => ("failed", None),
        Some(job_status::Status::Successful(_)) => ("done", None),
    };
    Some(JobProgress {
        job_id,
        state,
        running_for,
    })
}

/// Asks the scheduler of every job this process sent to cancel it (those finished are left
/// as they are); returns the ids of those the scheduler cancelled. Each call is bounded in
/// time, so an interrupt never waits long on a scheduler that went away.
pub async fn cancel_all() -> Vec<String> {
    let mut cancelled = Vec::new();
    for (url, job_id) in job_ids() {
        let ask = async {
            scheduler(url)
                .await?
                .cancel_job(CancelJobParams {
                    job_id: job_id.clone(),
                })
                .await
                .ok()
        };
        if let Ok(Some(r)) = tokio::time::timeout(CALL_TIMEOUT, ask).await
            && r.into_inner().cancelled
        {
            cancelled.push(job_id);
        }
    }
    cancelled
}
