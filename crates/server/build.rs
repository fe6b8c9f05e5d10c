//! Builds the dashboard with npm (ECharts, bundled by esbuild) and the residents' page (`/me`)
//! into OUT_DIR for the crate to embed, so the binary serves them with no CDN at run time.
//! Runs `npm ci` once when `dashboard/node_modules` is missing. Without npm (or with
//! `FANGYI_NO_DASHBOARD=1`) the server embeds a page saying how to build it, and cargo prints a
//! warning.

use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: [&str; 7] = [
    "index.html",
    "app.js",
    "style.css",
    "app.js.LEGAL.txt",
    "me.html",
    "me.js",
    "me.css",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let src = manifest.join("dashboard");
    for p in ["src", "build.mjs", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed=dashboard/{p}");
    }
    println!("cargo:rerun-if-env-changed=FANGYI_NO_DASHBOARD");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("dashboard");
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let built = if std::env::var_os("FANGYI_NO_DASHBOARD").is_some() {
        Err("FANGYI_NO_DASHBOARD is set".to_string())
    } else {
        build(&src, &out)
    };
    if let Err(why) = built {
        println!(
            "cargo:warning=the dashboard was not built ({why}); `fangyi serve` will show how to build it"
        );
        let page = format!(
            "<!doctype html><meta charset=utf-8><title>fangyi</title><h1>The dashboard was not built</h1>\
             <p>{why}.</p><p>Install Node.js and npm, then rebuild: <code>cargo build --release</code> \
             (it runs <code>npm ci</code> and <code>npm run build</code> in <code>crates/server/dashboard</code>).</p>\
             <p>The API is available: <a href=/api/docs>/api/docs</a>.</p>"
        );
        std::fs::write(out.join("index.html"), &page).expect("OUT_DIR is writable");
        std::fs::write(out.join("me.html"), &page).expect("OUT_DIR is writable");
        std::fs::write(out.join("me.js"), "").expect("OUT_DIR is writable");
        std::fs::write(out.join("me.css"), "").expect("OUT_DIR is writable");
        std::fs::write(out.join("app.js"), "").expect("OUT_DIR is writable");
        std::fs::write(out.join("style.css"), "").expect("OUT_DIR is writable");
        std::fs::write(out.join("app.js.LEGAL.txt"), "").expect("OUT_DIR is writable");
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what} failed ({s})")),
        Err(e) => Err(format!("{what} could not start: {e}")),
    }
}

fn build(src: &Path, out: &Path) -> Result<(), String> {
    if !src.join("node_modules").join("echarts").is_dir() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(src),
            "npm ci",
        )?;
    }
    run(
        Command::new("node")
            .arg("build.mjs")
            .arg(out)
            .current_dir(src),
        "node build.mjs",
    )?;
    for f in FILES {
        if !out.join(f).is_file() {
            return Err(format!("the build made no {f}"));
        }
    }
    Ok(())
}
