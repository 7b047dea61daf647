//! The rules of user accounts: names, passwords and roles.

use std::fmt;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted, in bytes (bounds hashing work).
pub const MAX_PASSWORD: usize = 1024;

/// A rule the input breaks; the message says the rule, never the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// A malformed username.
    #[error(
        "username must be 3 to 32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
    )]
    Username,
    /// A password under the minimum.
    #[error("password must be at least {} characters", MIN_PASSWORD)]
    PasswordTooShort,
    /// A password over the maximum.
    #[error("password must be at most {} bytes", MAX_PASSWORD)]
    PasswordTooLong,
    /// An unknown role.
    #[error("role must be one of: {}", Role::names())]
    Role,
    /// A user search longer than any username.
    #[error("a user search is at most 32 characters")]
    Search,
}

/// A valid username: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter or
/// digit, stored lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Checks and lowercases a name.
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        let lower = name.to_ascii_lowercase();
        let ok = (3..=32).contains(&lower.len())
            && lower
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && lower.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(Self(lower))
        } else {
            Err(Invalid::Username)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a new password's length: at least [`MIN_PASSWORD`] characters,
/// at most [`MAX_PASSWORD`] bytes.
pub fn check_new_password(password: &str) -> Result<(), Invalid> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Invalid::PasswordTooShort);
    }
    if password.len() > MAX_PASSWORD {
        return Err(Invalid::PasswordTooLong);
    }
    Ok(())
}

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// An ordinary account.
    User,
    /// May change roles and ban users.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 2] = [Self::User, Self::Admin];

    /// The role's name, as stored and as carried in tokens.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    /// The role with this name.
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or(Invalid::Role)
    }

    /// The names of every role, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse("Alice").unwrap().as_str(), "alice");
        for bad in ["al", "bad name", "-x-", ".dot", &"a".repeat(33), "é-user"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        assert!(Username::parse("a.b_c-9").is_ok());
    }

    #[test]
    fn passwords_are_bounded_in_characters_and_bytes() {
        assert!(check_new_password("seven!!").is_err());
        assert!(
            check_new_password("éééééééé").is_ok(),
            "characters, not bytes"
        );
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD)).is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD + 1)).is_err());
    }

    #[test]
    fn roles_round_trip_by_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("superuser").is_err());
        assert!(Role::parse("Admin").is_err(), "names are exact");
        assert_eq!(Role::names(), "user, admin");
    }
}
