//! How deep a document and its variables nest, measured before anything parses them.
//!
//! async-graphql's parser (pest) descends recursively into every list `[…]`, object `{…}` and
//! argument list `(…)`; only selection sets carry a depth limit, and it is checked after pest
//! has already recursed. A 32 KiB document holds thousands of `[`, enough to overflow a tokio
//! worker's stack and abort the whole process. So every document is scanned first, by a lexer
//! that knows GraphQL's strings, block strings and comments (a `[` inside `"…"` is text, not
//! nesting), and refused when any bracket nests deeper than [`MAX_NESTING`]. The scan is
//! iterative and linear, so it cannot overflow itself whatever it is given.
//!
//! Variables arrive as JSON: serde_json stops at 128 levels, and [`variables_too_deep`] applies
//! the same bound as documents, so a value nests the same whichever spelling carries it.

use async_graphql::{Value, Variables};

/// Deepest bracket nesting accepted, all kinds counted together. The standard introspection
/// query nests 11 deep (its `TypeRef` fragment), the SPA's deepest document 9; the parser
/// overflowed a debug build's 2 MiB stack from about 300 levels.
pub const MAX_NESTING: usize = 48;

/// Why a document's nesting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the document is nested too deep: more than {max} levels of brackets")]
pub struct TooDeep {
    pub max: usize,
}

/// Refuses `document` when its brackets (`{`, `[`, `(`, outside strings and comments) nest
/// deeper than `max`. Unbalanced or otherwise invalid text is left for the parser to refuse.
pub fn check_document(document: &str, max: usize) -> Result<(), TooDeep> {
    let bytes = document.as_bytes();
    let mut depth = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                // A comment runs to the end of the line.
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i = skip_block_string(bytes, i + 3);
                continue;
            }
            b'"' => {
                i = skip_string(bytes, i + 1);
                continue;
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max {
                    return Err(TooDeep { max });
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index after a `"…"` string whose body starts at `i`: `\` escapes the next byte, and a
/// line break ends it (an unterminated string is the parser's to refuse).
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    i
}

/// The index after a `"""…"""` block string whose body starts at `i`; `\"""` is an escaped
/// triple quote, the only escape block strings have.
fn skip_block_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    i
}

/// Whether any variable's value nests lists and objects deeper than `max` (the variables
/// object itself not counted). Iterative, like the document scan.
pub fn variables_too_deep(variables: &Variables, max: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = variables.values().map(|v| (v, 1)).collect();
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::List(items) => Box::new(items.iter()),
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        if depth > max {
            return true;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, levels: usize) -> String {
        format!("{}1{}", open.repeat(levels), close.repeat(levels))
    }

    #[test]
    fn every_bracket_kind_counts() {
        for (open, close) in [("[", "]"), ("{a:", "}"), ("(", ")")] {
            let ok = format!("{{ f(a: {}) }}", nested(open, close, MAX_NESTING - 2));
            assert!(check_document(&ok, MAX_NESTING).is_ok(), "{open}");
            let deep = format!("{{ f(a: {}) }}", nested(open, close, MAX_NESTING));
            assert_eq!(
                check_document(&deep, MAX_NESTING),
                Err(TooDeep { max: MAX_NESTING }),
                "{open}"
            );
        }
        // Selection sets, fragments, directive arguments and variable defaults alike.
        let selections = format!("{}{}", "{ a ".repeat(60), "}".repeat(60));
        assert!(check_document(&selections, MAX_NESTING).is_err());
        let default = format!("query($v: [Int] = {}) {{ a }}", nested("[", "]", 60));
        assert!(check_document(&default, MAX_NESTING).is_err());
        let directive = format!("{{ a @include(if: {}) }}", nested("{x:", "}", 60));
        assert!(check_document(&directive, MAX_NESTING).is_err());
    }

    #[test]
    fn brackets_in_strings_and_comments_are_text() {
        let many = "[".repeat(5_000);
        for text in [
            format!("{{ a(s: \"{many}\") }}"),
            format!("{{ a(s: \"\"\"{many}\"\"\") }}"),
            format!("{{ a(s: \"\"\"x \\\"\"\" {many}\"\"\") }}"),
            format!("{{ a(s: \"\\\"{many}\") }}"),
            format!("{{ a # {many}\n }}"),
        ] {
            assert!(check_document(&text, MAX_NESTING).is_ok(), "{text:.40}");
        }
        // The string ends where it ends: brackets after it count again.
        let after = format!("{{ a(s: \"x\\\\\") {} }}", "{ b ".repeat(60));
        assert!(check_document(&after, MAX_NESTING).is_err());
    }

    #[test]
    fn a_whole_document_of_brackets_is_refused_without_recursion() {
        let text = "[".repeat(super::super::executor::MAX_QUERY_BYTES);
        assert!(check_document(&text, MAX_NESTING).is_err());
        // Unbalanced closers do not underflow.
        assert!(check_document(&"]".repeat(10_000), MAX_NESTING).is_ok());
    }

    #[test]
    fn deep_variables_are_found() {
        let mut value = serde_json::json!(1);
        for _ in 0..100 {
            value = serde_json::json!([value]);
        }
        let vars = Variables::from_json(serde_json::json!({ "v": value }));
        assert!(variables_too_deep(&vars, MAX_NESTING));
        let shallow = Variables::from_json(serde_json::json!({"v": {"a": [1, {"b": 2}]}}));
        assert!(!variables_too_deep(&shallow, MAX_NESTING));
    }
}
