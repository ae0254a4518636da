//! The two READMEs stay in step: README.zh-CN.md holds every code block of README.md, the
//! same and in the same order (the commands, the walk-through, the configuration), and each
//! links to the other.

fn read(name: &str) -> String {
    let path = format!("{}/../../{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fenced code blocks of a Markdown text, fences included.
fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match open.as_mut() {
            None if line.starts_with("```") => open = Some(vec![line]),
            None => {}
            Some(block) => {
                block.push(line);
                if line == "```" {
                    blocks.push(block.join("\n"));
                    open = None;
                }
            }
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

#[test]
fn the_chinese_readme_has_every_code_block_of_the_english_one() {
    let english = read("README.md");
    let chinese = read("README.zh-CN.md");
    let (en, zh) = (code_blocks(&english), code_blocks(&chinese));
    assert!(en.len() >= 10, "{} code blocks in README.md", en.len());
    for (i, (e, z)) in en.iter().zip(&zh).enumerate() {
        assert_eq!(
            e, z,
            "code block {i} differs between README.md and README.zh-CN.md"
        );
    }
    assert_eq!(
        en.len(),
        zh.len(),
        "README.md has {} code blocks, README.zh-CN.md {}",
        en.len(),
        zh.len()
    );
    assert!(
        english.contains("(README.zh-CN.md)"),
        "README.md links to the Chinese README"
    );
    assert!(
        chinese.contains("(README.md)"),
        "README.zh-CN.md links to the English README"
    );
}
