//! The scheduler's watch for jobs that can no longer finish. Ballista 55 sometimes loses track
//! of a job after an executor dies (a stage rolled back to "unresolved" whose inputs are never
//! run again): the job stays "running" with nothing running anywhere, and its client waits
//! for ever. A job is failed here, with an error saying why, once the whole cluster has been
//! idle for the scheduler's stall limit (`--stall-limit`, 60 s) with live executors while the
//! job's stages stayed as they were; a cluster that has work running, or no executor at all
//! (Ballista's own grace period fails jobs then), is left alone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ballista_core::JobId;
use ballista_scheduler::scheduler_server::SchedulerServer;
use ballista_scheduler::state::execution_graph::ExecutionGraph;
use ballista_scheduler::state::execution_stage::ExecutionStage;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

/// How often the scheduler's jobs are looked at.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// How long the failed status is left for the job's client to read before the job is
/// cancelled (which frees what it held, and would say only "Cancelled"). Clients ask every
/// 50 ms.
const TELL_CLIENT: Duration = Duration::from_secs(3);

type Scheduler = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// The state of each stage of a job, in stage order: what moves when the job moves.
fn stage_states(graph: &dyn ExecutionGraph) -> Vec<(usize, char)> {
    let mut states: Vec<(usize, char)> = graph
        .stages()
        .iter()
        .map(|(id, stage)| {
            let state = match stage {
                ExecutionStage::UnResolved(_) => 'u',
                ExecutionStage::Resolved(_) => 'r',
                ExecutionStage::Running(_) => 'R',
                ExecutionStage::Successful(_) => 's',
                ExecutionStage::Failed(_) => 'f',
            };
            (*id, state)
        })
        .collect();
    states.sort_unstable();
    states
}

/// What one look at the scheduler found.
struct Look {
    /// Tasks running on the executors, over every job.
    running_tasks: usize,
    /// The running jobs and the state of their stages.
    jobs: HashMap<String, Vec<(usize, char)>>,
}

async fn look(scheduler: &Scheduler) -> Look {
    let mut look = Look {
        running_tasks: 0,
        jobs: HashMap::new(),
    };
    for (job_id, info) in scheduler.state.task_manager.get_running_job_cache().iter() {
        let graph = info.execution_graph.read().await;
        look.running_tasks += graph.running_tasks().len();
        look.jobs
            .insert(job_id.to_string(), stage_states(graph.as_ref()));
    }
    look
}

/// The executors the scheduler knows, as heard from lately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Executors {
    /// Sent a heartbeat within the last few (executors send one every 5 s).
    fresh: usize,
    /// Silent longer, and not yet removed: Ballista has not yet noticed their death (after
    /// its executor timeout) and run their tasks again, so a job waiting on them is waiting
    /// on Ballista, not stalled.
    silent: usize,
}

async fn executors(scheduler: &Scheduler, fresh_within: Duration) -> Executors {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let known = scheduler
        .state
        .executor_manager
        .get_executors_state()
        .await
        .unwrap_or_default();
    let fresh = known
        .iter()
        .filter(|(_, beat, _)| beat.is_some_and(|b| now.saturating_sub(b) <= fresh_within))
        .count();
    Executors {
        fresh,
        silent: known.len() - fresh,
    }
}

/// Since when each job has sat unchanged on an idle cluster, by job id.
#[derive(Default)]
struct Stalls {
    since: HashMap<String, (Instant, Vec<(usize, char)>)>,
}

impl Stalls {
    /// Takes a look at time `now`; returns the jobs stalled for `limit` or longer.
    fn observe(
        &mut self,
        look: Look,
        executors: Executors,
        now: Instant,
        limit: Duration,
    ) -> Vec<String> {
        // Work running, no executor to run any (Ballista's own grace period fails jobs then),
        // or an executor's death not yet handled by Ballista: nothing is stalled now.
        if look.running_tasks > 0 || executors.fresh == 0 || executors.silent > 0 {
            self.since.clear();
            return Vec::new();
        }
        self.since.retain(|id, _| look.jobs.contains_key(id));
        let mut stalled = Vec::new();
        for (id, states) in look.jobs {
            let entry = self
                .since
                .entry(id.clone())
                .or_insert_with(|| (now, states.clone()));
            if entry.1 != states {
                *entry = (now, states);
            } else if now.duration_since(entry.0) >= limit {
                stalled.push(id);
            }
        }
        for id in &stalled {
            self.since.remove(id);
        }
        stalled
    }
}

/// Watches `scheduler`'s jobs until the process ends, failing those that cannot finish.
/// `executor_timeout`: how long without a heartbeat makes Ballista drop an executor; `limit`:
/// how long an idle cluster may hold a job that does not move (long against the milliseconds
/// a stage takes to follow the one before it).
pub(crate) async fn watch(scheduler: Scheduler, executor_timeout: Duration, limit: Duration) {
    let mut stalls = Stalls::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tick.tick().await;
        let look = look(&scheduler).await;
        let executors = executors(&scheduler, executor_timeout / 2).await;
        for job_id in stalls.observe(look, executors, Instant::now(), limit) {
            fail(&scheduler, &job_id, limit).await;
        }
    }
}

async fn fail(scheduler: &Scheduler, id: &str, limit: Duration) {
    let job_id = JobId::new(id);
    let message = format!(
        "the cluster stopped working on it: nothing of it ran for {} s though executors were \
         free (Ballista loses track of a job at times after an executor dies); run the \
         command again",
        limit.as_secs()
    );
    tracing::error!("job {id}: {message}");
    let Some(info) = scheduler
        .state
        .task_manager
        .get_running_job_cache()
        .get(&job_id)
        .cloned()
    else {
        return;
    };
    info.execution_graph.write().await.fail_job(message);
    tokio::time::sleep(TELL_CLIENT).await;
    if let Err(e) = scheduler.cancel_job(job_id).await {
        tracing::warn!("cancelling the stalled job {id}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(60);
    const TWO: Executors = executors(2, 0);

    const fn executors(fresh: usize, silent: usize) -> Executors {
        Executors { fresh, silent }
    }

    /// One job, "a", watched from `t0`: each look gives the tasks running over the cluster,
    /// the job's stage states (a letter per stage), the executors and the seconds since `t0`.
    struct Watch {
        stalls: Stalls,
        t0: Instant,
    }

    impl Watch {
        fn new() -> Watch {
            Watch {
                stalls: Stalls::default(),
                t0: Instant::now(),
            }
        }

        fn look(
            &mut self,
            running_tasks: usize,
            states: &str,
            ex: Executors,
            secs: u64,
        ) -> Vec<String> {
            let look = Look {
                running_tasks,
                jobs: HashMap::from([("a".to_string(), states.chars().enumerate().collect())]),
            };
            self.stalls
                .observe(look, ex, self.t0 + Duration::from_secs(secs), LIMIT)
        }
    }

    #[test]
    fn a_job_unchanged_on_an_idle_cluster_is_stalled_after_the_limit() {
        let mut w = Watch::new();
        assert!(w.look(0, "su", TWO, 0).is_empty());
        assert!(w.look(0, "su", TWO, 59).is_empty());
        assert_eq!(w.look(0, "su", TWO, 60), ["a"]);
    }

    #[test]
    fn a_job_that_moves_or_a_busy_or_empty_cluster_is_not_stalled() {
        let mut w = Watch::new();
        w.look(0, "Ru", TWO, 0);
        // Its stages moved: the clock starts again.
        assert!(w.look(0, "sR", TWO, 40).is_empty());
        assert!(w.look(0, "sR", TWO, 99).is_empty());
        // Another job's tasks run: waiting for slots is not a stall.
        assert!(w.look(3, "sR", TWO, 101).is_empty());
        assert!(w.look(0, "sR", TWO, 120).is_empty());
        // No live executor: Ballista's own grace period decides.
        assert!(w.look(0, "sR", executors(0, 0), 200).is_empty());
        // An executor silent but not yet dropped: Ballista will run its tasks again.
        assert!(w.look(0, "sR", executors(1, 1), 201).is_empty());
        assert!(w.look(0, "sR", executors(1, 1), 300).is_empty());
        assert!(w.look(0, "sR", executors(1, 0), 301).is_empty());
        assert_eq!(w.look(0, "sR", executors(1, 0), 361), ["a"]);
    }
}
