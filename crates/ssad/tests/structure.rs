//! Structure checks any maintainer can run: README's module map names every module of the
//! `ssad` crate (and no other), and the crate's top-level modules import each other in one
//! direction only (no circle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate's `src/` folder.
fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Top-level modules: `name.rs` files (but `lib.rs`, `main.rs`) and folders.
fn modules() -> BTreeSet<String> {
    std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            let keep = p.is_dir() || (p.extension()? == "rs" && name != "lib" && name != "main");
            keep.then_some(name)
        })
        .collect()
}

/// Every `.rs` file of module `m`.
fn files_of(m: &str) -> Vec<PathBuf> {
    let file = src().join(format!("{m}.rs"));
    if file.is_file() {
        return vec![file];
    }
    let mut out = Vec::new();
    let mut stack = vec![src().join(m)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// The other top-level modules that `text` names as `crate::<module>` (in paths or in
/// `use crate::{a, b}` groups).
fn referenced(text: &str, mods: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .map(|s| s.trim().split("::").next().unwrap_or(""))
                .collect()
        } else {
            vec![rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("")]
        };
        for n in names {
            if mods.contains(n) {
                out.insert(n.to_string());
            }
        }
    }
    out
}

#[test]
fn readme_module_map_lists_every_module() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let start = readme
        .find("The modules of the `ssad` crate")
        .expect("README has the module map");
    let table: BTreeSet<String> = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| module"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| l[3..].split('`').next().unwrap().to_string())
        .collect();
    let mods = modules();
    let missing: Vec<_> = mods.difference(&table).collect();
    let extra: Vec<_> = table.difference(&mods).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "README's module map is out of date: missing {missing:?}, naming modules that do not exist {extra:?}"
    );
}

#[test]
fn modules_import_each_other_in_one_direction() {
    let mods = modules();
    let edges: BTreeMap<String, BTreeSet<String>> = mods
        .iter()
        .filter(|m| *m != "cli")
        .map(|m| {
            let mut to = BTreeSet::new();
            for f in files_of(m) {
                to.extend(referenced(&std::fs::read_to_string(f).unwrap(), &mods));
            }
            to.remove(m);
            (m.clone(), to)
        })
        .collect();
    // The library never reaches up into the binary's CLI.
    for (m, to) in &edges {
        assert!(!to.contains("cli"), "library module {m} imports the CLI");
    }
    // A circle: some module reaches itself again.
    fn path_back(
        edges: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        if from == to {
            return true;
        }
        if !seen.insert(from.to_string()) {
            return false;
        }
        for n in edges.get(from).into_iter().flatten() {
            path.push(n.clone());
            if path_back(edges, n, to, seen, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    for (m, to) in &edges {
        for n in to {
            let mut path = vec![m.clone(), n.clone()];
            if path_back(&edges, n, m, &mut BTreeSet::new(), &mut path) {
                panic!("import circle: {}", path.join(" -> "));
            }
        }
    }
    // The check sees real imports (a broken parser would pass vacuously).
    assert!(edges["report"].contains("study") && edges["imageio"].contains("figure"));
}
