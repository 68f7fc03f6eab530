//! Finding the Debian mirror the host's apt already uses, so builds go wherever
//! the operator pointed apt (a local mirror, a snapshot, a proxy).

use std::fs;
use std::path::Path;

use crate::ImageError;

/// The suite the Debian image is built from.
pub(super) const SUITE: &str = "bookworm";

/// deb822 sources, then one-line sources; the first that serves the suite wins.
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
const SOURCES_LIST: &str = "/etc/apt/sources.list";

/// The URI of the first apt source that serves `bookworm`.
pub(super) fn bookworm_mirror() -> Result<String, ImageError> {
    let mut files: Vec<_> = fs::read_dir(SOURCES_DIR)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for path in files.iter().filter(|p| has_extension(p, "sources")) {
        let text = fs::read_to_string(path).unwrap_or_default();
        if let Some(uri) = from_deb822(&text) {
            return Ok(uri);
        }
    }
    let one_line = files.into_iter().filter(|p| has_extension(p, "list"));
    for path in std::iter::once(SOURCES_LIST.into()).chain(one_line) {
        let text = fs::read_to_string(&path).unwrap_or_default();
        if let Some(uri) = from_one_line(&text) {
            return Ok(uri);
        }
    }
    Err(ImageError::Build(format!("no apt source serves {SUITE}")))
}

/// Whether `path` ends in `.ext`.
fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e == ext)
}

/// The first URI of a deb822 stanza of type `deb` that lists the suite.
fn from_deb822(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    for stanza in lines.split(|line| line.trim().is_empty()) {
        let field = |name: &str| {
            stanza.iter().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
            })
        };
        let is_deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let serves = field("Suites").is_some_and(|s| s.split_whitespace().any(|s| s == SUITE));
        let enabled = field("Enabled").is_none_or(|e| e != "no");
        if is_deb && serves && enabled {
            return field("URIs")?.split_whitespace().next().map(str::to_string);
        }
    }
    None
}

/// The URI of the first `deb [options] URI suite ...` line for the suite.
fn from_one_line(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace().peekable();
        if words.next()? != "deb" {
            return None;
        }
        if words.peek()?.starts_with('[') {
            // Options may contain spaces: skip to the word that closes them.
            for word in words.by_ref() {
                if word.ends_with(']') {
                    break;
                }
            }
        }
        let uri = words.next()?;
        (words.next()? == SUITE).then(|| uri.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_picks_the_stanza_serving_the_suite() {
        let text = "Types: deb\nURIs: http://sec.example/debian-security\n\
                    Suites: bookworm-security\n\n\
                    Types: deb\n# comment\nURIs: http://mirror.example/debian\n\
                    Suites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(from_deb822(text).unwrap(), "http://mirror.example/debian");
    }

    #[test]
    fn one_line_sources_skip_options() {
        let text = "# x\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n";
        assert_eq!(from_one_line(text).unwrap(), "http://m.example/debian");
        assert!(from_one_line("deb http://m.example/debian trixie main").is_none());
    }
}
