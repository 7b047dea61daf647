//! The `passcard` command. Exit codes: 0 success (for `token verify`: the
//! token is valid), 1 the token is invalid, 2 usage or configuration error.

use std::process::ExitCode;

fn main() -> ExitCode {
    passcard::run()
}
