//! Both backends migrate through the same versions, so a database can be described by one
//! number whichever store holds it.

use std::collections::BTreeSet;
use std::path::Path;

fn versions(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".sql").map(|stem| stem.to_owned())
        })
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_versions_and_names() {
    let sqlite = versions("sqlite");
    let postgres = versions("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}
