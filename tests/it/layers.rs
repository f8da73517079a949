//! The layers stay layers: a test that reads the sources and fails on an import that points
//! the wrong way (ARCHITECTURE.md, "Invariants"). Test modules (`#[cfg(test)]` onwards) are
//! left out: they may use the codec to pin stored forms.

use std::path::Path;

/// The source of every `.rs` file under `src/LAYER`, cut at its test module.
fn sources(layer: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(layer);
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
                files.push((path.display().to_string(), code));
            }
        }
    }
    assert!(!files.is_empty(), "no sources under src/{layer}");
    files
}

/// Every line of `layer` that names one of `forbidden` (`crate::x` paths or external
/// crates), outside comments.
fn offences(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (file, code) in sources(layer) {
        for (number, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            for name in forbidden {
                let external = format!("{name}::");
                let named = line.contains(name)
                    && ((name.starts_with("crate::") || name.starts_with("super::"))
                        || line.contains(&format!("use {name}"))
                        || line.match_indices(&external).any(|(i, _)| {
                            i == 0
                                || !line[..i].ends_with(|c: char| {
                                    c.is_alphanumeric() || c == '_' || c == ':'
                                })
                        }));
                if named {
                    found.push(format!("{file}:{}: {name}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_kernel_imports_nothing_of_ours_and_the_rules_only_the_kernel() {
    // Proves kernel/ takes nothing from another layer and rules/ nothing but the kernel, and
    // neither (nor domain/) reaches for storage, HTTP or the async runtime.
    let runtime = ["sled", "fjall", "axum", "tokio", "hyper"];
    let upper = [
        "crate::domain",
        "crate::rules",
        "crate::projections",
        "crate::derived",
        "crate::engine",
        "crate::api",
        "crate::cli",
        "crate::ledger",
    ];
    let mut found = offences("kernel", &[&upper[..], &runtime[..]].concat());
    found.extend(offences(
        "rules",
        &[&upper[..1], &upper[2..], &runtime[..]].concat(),
    ));
    found.extend(offences("domain", &[&upper[2..7], &runtime[..]].concat()));
    assert!(
        found.is_empty(),
        "imports against the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn lower_layers_never_import_upper_ones() {
    // Proves the log knows nothing of the business, read models never reach the writer,
    // queries or HTTP, queries never reach the writer, HTTP, the CLI or the runtime, the
    // engine never reaches queries, HTTP or the CLI, the API never touches sled or the read
    // models (it reads through queries/), the CLI never imports the API (the binary's
    // `main` wires the server in), and the input forms reach neither the API, the CLI, the
    // writer, the read models, storage, HTTP nor the async runtime. The derived stores
    // know the domain's records but no read model, query, writer, HTTP or CLI.
    let mut found = offences(
        "ledger",
        &[
            "crate::domain",
            "crate::rules",
            "crate::projections",
            "crate::derived",
            "crate::engine",
            "crate::api",
            "crate::cli",
        ],
    );
    found.extend(offences(
        "derived",
        &[
            "crate::projections",
            "crate::queries",
            "crate::engine",
            "crate::api",
            "crate::cli",
            "sled",
            "axum",
            "tokio",
        ],
    ));
    found.extend(offences(
        "projections",
        &[
            "crate::engine",
            "crate::queries",
            "crate::api",
            "crate::cli",
            "sled",
        ],
    ));
    found.extend(offences(
        "queries",
        &[
            "crate::engine",
            "crate::api",
            "crate::cli",
            "sled",
            "axum",
            "tokio",
            "hyper",
        ],
    ));
    found.extend(offences(
        "engine",
        &["crate::queries", "crate::api", "crate::cli"],
    ));
    found.extend(offences(
        "api",
        &["sled", "crate::cli", "crate::projections"],
    ));
    found.extend(offences("cli", &["crate::api"]));
    found.extend(offences(
        "input",
        &[
            "crate::api",
            "crate::cli",
            "crate::engine",
            "crate::projections",
            "crate::derived",
            "sled",
            "fjall",
            "axum",
            "tokio",
            "hyper",
        ],
    ));
    assert!(
        found.is_empty(),
        "imports against the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_resource_module_of_the_api_imports_another() {
    // Proves each resource file of api/ stands alone: what two resources share lives in
    // api/mod.rs, api/extract.rs, api/auth.rs or api/error.rs, or below the API (queries/,
    // input/); a helper one resource takes from another is a query in the wrong place.
    let shared = [
        "mod",
        "extract",
        "auth",
        "error",
        "openapi",
        "transport",
        "server",
    ];
    let resources: Vec<String> = sources("api")
        .iter()
        .filter_map(|(file, _)| {
            let stem = std::path::Path::new(file)
                .file_stem()?
                .to_str()?
                .to_string();
            (!shared.contains(&stem.as_str())).then_some(stem)
        })
        .collect();
    let mut found = Vec::new();
    for resource in &resources {
        let others: Vec<String> = resources
            .iter()
            .filter(|r| *r != resource)
            .flat_map(|r| [format!("super::{r}::"), format!("crate::api::{r}::")])
            .collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        found.extend(
            offences("api", &others)
                .into_iter()
                .filter(|o| o.contains(&format!("/{resource}.rs:"))),
        );
    }
    assert!(
        found.is_empty(),
        "api resource modules importing each other:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_rule_query_or_projection_reads_the_clock() {
    // Proves "today" comes from the caller: the pure layers, the read models, the queries
    // and the input forms never read the wall clock, and the API reads it in one place
    // (`extract::Today`, once per request). Monotonic timers (`Instant`) are not a date.
    let clock = ["Utc::now", "Local::now", "SystemTime::now"];
    let mut found = Vec::new();
    for layer in [
        "kernel",
        "rules",
        "domain",
        "projections",
        "queries",
        "input",
        "api",
    ] {
        for (file, code) in sources(layer) {
            if file.ends_with("api/extract.rs") {
                continue;
            }
            for (number, line) in code.lines().enumerate() {
                let line = line.split("//").next().unwrap_or("");
                if clock.iter().any(|c| line.contains(c)) {
                    found.push(format!("{file}:{}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "clock reads:\n{}", found.join("\n"));
}
