//! `fangyi kinds`: the input kinds and their columns, straight from the registry.

use clap::Args;
use engine::{Kind, Storage};

use crate::exit::usage;

pub fn run(a: KindsArgs) -> anyhow::Result<()> {
    let kinds: Vec<Kind> = match &a.kind {
        None => Kind::ALL.to_vec(),
        Some(k) => vec![Kind::parse(k).ok_or_else(|| usage(format!("{k}: not a kind")))?],
    };
    for k in kinds {
        let spec = k.spec();
        let part = spec
            .partition_by
            .map(|p| format!(", stored by the date of {p}"))
            .unwrap_or_default();
        println!("{} — {}{part}", k.name(), spec.about);
        for c in spec.columns {
            let storage = match c.storage {
                Storage::Plain => "",
                Storage::Pseudonym => "  [stored as keyed pseudonym]",
                Storage::Vault => "  [sealed in the vault]",
            };
            println!(
                "  {}{:<20} {}{storage}",
                if c.required { "*" } else { " " },
                c.name,
                c.ty.describe()
            );
        }
        println!();
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct KindsArgs {
    /// Show one kind only.
    pub kind: Option<String>,
}
