//! `fangyi keys`, `code issue`, `code revoke` and `verify`: signed, offline-verifiable codes.

use crate::cli::{CodeIssueArgs, CodeRevokeArgs};
use crate::commands::Globals;

pub fn issue(_g: &Globals, _a: CodeIssueArgs) -> anyhow::Result<()> {
    anyhow::bail!("signed codes are being built")
}

pub fn revoke(_g: &Globals, _a: CodeRevokeArgs) -> anyhow::Result<()> {
    anyhow::bail!("signed codes are being built")
}
