//! The operator at the command line as one of the engine's callers. Every command that reads
//! personal data opens the engine as the local account (`cli:<login>`, an admin unless
//! `--as-role` names another role) for its purpose (`--purpose`, else the command's usual one)
//! and asks the same engine methods the server's routes ask: the same policy, scope, masking
//! and audit apply, and the answers are the same views.

use std::future::Future;

use anyhow::Context;
use engine::{Account, Caller, Engine, EngineError, EngineOptions, Purpose, Role};

use crate::commands::Globals;
use crate::exit::usage;

/// The engine opened for the operator, with the runtime its questions run on.
pub struct Operator {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    account: Account,
    purpose: Option<Purpose>,
    /// The cluster's scheduler the engine's SQL runs on, if any.
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    cluster: Option<String>,
}

/// The account the operator reads as: the key holder's (an admin), or `--as-role`'s.
pub fn account(g: &Globals) -> anyhow::Result<Account> {
    let mut account = Account::local();
    if let Some(r) = g.as_role.as_deref() {
        account.role = Role::parse(r)
            .ok_or_else(|| usage(format!("--as-role {r}: one of {}", Role::names())))?;
    }
    Ok(account)
}

/// `--purpose`, parsed; `None` when not given (each command has its usual one).
pub fn purpose(g: &Globals) -> anyhow::Result<Option<Purpose>> {
    g.purpose
        .as_deref()
        .map(|p| {
            Purpose::parse(p)
                .ok_or_else(|| usage(format!("--purpose {p}: one of {}", Purpose::names())))
        })
        .transpose()
}

/// An engine error as the command line reports it: what the request itself got wrong (refused
/// by the policy or scope, malformed, naming nothing, conflicting) is bad usage (exit 2), the
/// rest a failure (exit 1).
pub fn error(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::Denied(_)
        | EngineError::BadRequest(_)
        | EngineError::NotFound(_)
        | EngineError::Conflict(_) => usage(e.to_string()),
        e => anyhow::Error::new(e),
    }
}

impl Operator {
    /// Opens the data dir's engine with the built-in rules.
    pub fn open(g: &Globals) -> anyhow::Result<Operator> {
        Operator::open_with(g, |_| Ok(()))
    }

    /// Opens the data dir's engine with options `configure` sets (a rule set file, say).
    pub fn open_with(
        g: &Globals,
        configure: impl FnOnce(&mut EngineOptions) -> anyhow::Result<()>,
    ) -> anyhow::Result<Operator> {
        let account = account(g)?;
        let purpose = purpose(g)?;
        let mut opts = EngineOptions::new(g.data());
        opts.db_url = g.db.clone();
        opts.short_lived = true;
        // SQL's memory pool is the global --memory budget (the bulk statements spill past it);
        // `fangyi sql` sets its own.
        opts.sql.memory_bytes =
            usize::try_from(crate::commands::trace_cmd::memory().get()).unwrap_or(usize::MAX);
        configure(&mut opts)?;
        let cluster = opts.cluster.clone();
        let keys = g.keys()?;
        let runtime = crate::commands::runtime()?;
        let engine = runtime
            .block_on(Engine::open(opts, keys))
            .with_context(|| format!("opening {}", g.data().display()))?;
        Ok(Operator {
            runtime,
            engine,
            account,
            purpose,
            cluster,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The caller of one request: this account, `--purpose` or `usual`, and the command line
    /// as the audit log records it (person ids masked).
    pub fn caller(&self, usual: Purpose, request: &str) -> Caller {
        Caller::new(
            self.account.clone(),
            self.purpose.unwrap_or(usual),
            engine::mask_ids(request),
        )
    }

    /// Runs a question on the engine and moves the audit checkpoint to the head before the
    /// process goes on (it exits soon after, with no writer left to do it).
    pub fn ask<T, F>(&self, question: F) -> anyhow::Result<T>
    where
        F: Future<Output = Result<T, EngineError>>,
    {
        // A job on a cluster shows its state and is cancelled there on Ctrl-C.
        #[cfg(feature = "cluster")]
        let _watch = self
            .cluster
            .as_deref()
            .map(crate::progress::ClusterWatch::start);
        self.runtime.block_on(async {
            let answer = question.await;
            // The entry is committed either way; a checkpoint that cannot move (a log someone
            // shortened) is what `fangyi audit verify` reports, not this command's failure.
            if let Err(e) = self.engine.checkpoint_audit_now().await {
                eprintln!("warning: the audit checkpoint was not moved: {e}");
            }
            answer.map_err(error)
        })
    }

    /// [`Operator::ask`] about what the operator typed (`subject`, an id): an error names it
    /// first, as the command line always has, with the same exit code.
    pub fn ask_about<T, F>(&self, subject: &str, question: F) -> anyhow::Result<T>
    where
        F: Future<Output = Result<T, EngineError>>,
    {
        self.ask(question).map_err(|e| {
            let named = format!("{}: {e:#}", subject.trim());
            if e.is::<crate::exit::Usage>() {
                usage(named)
            } else {
                anyhow::anyhow!(named)
            }
        })
    }
}
