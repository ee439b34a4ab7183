//! How a command fails, and the exit code for each way.

use std::fmt;
use std::process::ExitCode;

/// A failed command. `main` reports it and turns it into the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input (files, options) or I/O trouble: `error: MESSAGE` on stderr, exit 1.
    Error(String),
    /// The service rejected the request: its error body goes to stderr, exit 2.
    Rejected(Vec<u8>),
}

impl Failure {
    /// A [`Failure::Error`] from anything printable.
    pub(crate) fn error(message: impl fmt::Display) -> Self {
        Self::Error(message.to_string())
    }

    /// The process exit code for this failure.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::Error(_) => ExitCode::from(1),
            Self::Rejected(_) => ExitCode::from(2),
        }
    }
}
