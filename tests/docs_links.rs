//! Every relative link in the README and `docs/` leads to a file of the repository, so
//! the documents never point at something that is not there (issue 16).

use std::path::{Path, PathBuf};

/// The documents whose links are followed: README.md and every Markdown file in docs/.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("a docs/ entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    docs.sort();
    docs
}

/// The targets of `[text](target)` and `![alt](target)` links, outside code blocks.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push(target.to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_readme_and_docs_leads_to_a_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    let mut followed = 0;
    for doc in documents(root) {
        let text = std::fs::read_to_string(&doc).expect("a readable document");
        for target in link_targets(&text) {
            let external = ["http://", "https://", "mailto:", "vnc://"]
                .iter()
                .any(|s| target.starts_with(s));
            if external || target.starts_with('#') || target.is_empty() {
                continue;
            }
            let file = target.split('#').next().unwrap_or("");
            let path = doc.parent().expect("a folder").join(file);
            followed += 1;
            if !path.exists() {
                broken.push(format!(
                    "{}: {target}",
                    doc.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
    assert!(
        followed >= 5,
        "the README links to its docs ({followed} links followed)"
    );
}

/// The link finder itself: links and images, none in code blocks, titles dropped.
#[test]
fn the_link_finder_sees_links_and_images_outside_code() {
    let md = "See [api](docs/api.md#x) and ![shot](docs/ui.png \"title\").\n\
              ```\n[not](a-link.md)\n```\n[web](https://tart.run)";
    assert_eq!(
        link_targets(md),
        ["docs/api.md#x", "docs/ui.png", "https://tart.run"]
    );
}
