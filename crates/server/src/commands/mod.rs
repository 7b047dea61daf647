//! One module per subcommand.

pub(crate) mod compare;
pub(crate) mod keygen;
pub(crate) mod serve;
pub(crate) mod token;
pub(crate) mod user;
