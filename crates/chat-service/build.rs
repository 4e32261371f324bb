//! Embeds every file of `migrations/` (applied in name order by the SQLite store).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("migrations folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for f in &files {
        let name = f
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        let (version, description) = name
            .split_once('_')
            .expect("migrations are named NNNN_description.sql");
        let version: i64 = version
            .parse()
            .expect("migration names start with a number");
        println!("cargo:rerun-if-changed={}", f.display());
        writeln!(
            out,
            "    ({version}, {description:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push(']');
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    std::fs::write(dest, out).expect("write migrations.rs");
}
