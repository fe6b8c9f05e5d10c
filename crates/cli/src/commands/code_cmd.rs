//! `fangyi code`, `codes` and `rules`: health codes for one person or everyone, and the rule set.

use std::path::Path;

use crate::cli::{CodeArgs, CodesArgs, RulesDiffArgs, RulesShowArgs};
use crate::commands::Globals;

/// Evaluates one person's code as of the end of `as_of` (default today) under `rules` (default
/// the built-in set). Returns the code and the person's id.
pub fn evaluate(
    _g: &Globals,
    _person: &str,
    _as_of: Option<&str>,
    _rules: Option<&Path>,
) -> anyhow::Result<(rules::HealthCode, model::PersonId)> {
    anyhow::bail!("health-code evaluation is being built")
}

pub fn run(_g: &Globals, _a: CodeArgs) -> anyhow::Result<()> {
    anyhow::bail!("health-code evaluation is being built")
}

pub fn codes(_g: &Globals, _a: CodesArgs) -> anyhow::Result<()> {
    anyhow::bail!("health-code evaluation is being built")
}

pub fn rules_show(_a: RulesShowArgs) -> anyhow::Result<()> {
    anyhow::bail!("health-code evaluation is being built")
}

pub fn rules_diff(_g: &Globals, _a: RulesDiffArgs) -> anyhow::Result<()> {
    anyhow::bail!("health-code evaluation is being built")
}
