//! The generator's one error type: a file, a JSON pointer and a sentence.

use std::fmt;

/// Why generation stopped. Printed as one paragraph naming the file and the
/// JSON pointer of the offending part of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenError {
    /// The spec (or override) file the problem is in.
    pub file: String,
    /// JSON pointer (RFC 6901) into that file, empty for the whole document.
    pub pointer: String,
    /// What is wrong and, where we know, how to fix it.
    pub message: String,
}

impl GenError {
    /// An error at `pointer`; the file name is filled in by the caller that knows it.
    pub fn at(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        GenError {
            file: String::new(),
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// Attach the file name if none is set yet.
    pub fn in_file(mut self, file: &str) -> Self {
        if self.file.is_empty() {
            self.file = file.to_string();
        }
        self
    }
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() {
            "<spec>"
        } else {
            &self.file
        };
        if self.pointer.is_empty() {
            write!(f, "error in {file}: {}", self.message)
        } else {
            write!(f, "error in {file} at {}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for GenError {}

/// Escape one JSON-pointer token (`~` → `~0`, `/` → `~1`).
pub fn ptr_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Shorthand result type.
pub type Result<T, E = GenError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_pointer() {
        let e = GenError::at("/paths/~1agents/get", "bad").in_file("spec.json");
        assert_eq!(
            e.to_string(),
            "error in spec.json at /paths/~1agents/get: bad"
        );
        assert_eq!(ptr_token("/a~b"), "~1a~0b");
    }
}
