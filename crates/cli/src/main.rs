//! The `fangyi` command: a thin shell that parses arguments and calls the library crates.

mod cli;
mod commands;
mod context;
mod exit;
mod progress;

use clap::Parser;

// Ingest allocates and frees large column buffers per chunk; mimalloc keeps that memory
// mapped instead of returning it to the kernel and faulting it back in each time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args = cli::Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("FANGYI_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let code = match commands::run(args) {
        Ok(()) => 0,
        Err(e) => exit::report(&e),
    };
    std::process::exit(code);
}
