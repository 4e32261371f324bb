//! The agent's token in the OS keychain (R8): Secret Service (GNOME Keyring, KWallet) on
//! Linux, Keychain on macOS, Credential Manager on Windows. The token never touches a plain
//! file.
//!
//! One entry per service URL and email: keychain service `agent-inbox`, account
//! `<service_url>|<email>`.
//!
//! The calls block (a D-Bus round trip on Linux, a prompt at worst). They are safe from any
//! thread, including inside a tokio runtime: the keyring crate drives its own runtime, so each
//! call runs on a short-lived thread of its own. From async code prefer
//! `tokio::task::spawn_blocking` so a slow keychain does not hold up a runtime worker.

use crate::error::{Error, Result};

/// The keychain service name of the app's entries.
pub const SERVICE: &str = "agent-inbox";

/// Access to the agent's saved tokens.
#[derive(Debug, Clone)]
pub struct Credentials {
    service: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials::new()
    }
}

impl Credentials {
    /// The app's entries (service `agent-inbox`).
    pub fn new() -> Self {
        Credentials::with_service(SERVICE)
    }

    /// Entries under another keychain service name (tests, side-by-side installs).
    pub fn with_service(service: impl Into<String>) -> Self {
        Credentials {
            service: service.into(),
        }
    }

    /// The keychain account of an entry: `<service_url>|<email>`.
    pub fn account(service_url: &str, email: &str) -> String {
        format!("{service_url}|{email}")
    }

    /// Saves (or replaces) the token for this service and email.
    pub fn save(&self, service_url: &str, email: &str, token: &str) -> Result<()> {
        let account = Self::account(service_url, email);
        let token = token.to_owned();
        self.with_entry(&account, move |entry| entry.set_password(&token))
    }

    /// The saved token, or `None` when there is none.
    pub fn load(&self, service_url: &str, email: &str) -> Result<Option<String>> {
        let account = Self::account(service_url, email);
        self.with_entry(&account, |entry| match entry.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Forgets the token (sign out). Deleting an entry that does not exist is fine.
    pub fn delete(&self, service_url: &str, email: &str) -> Result<()> {
        let account = Self::account(service_url, email);
        self.with_entry(&account, |entry| match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e),
        })
    }

    /// Runs `op` on the entry on a thread of its own (the keyring crate's Secret Service
    /// backend blocks on a private tokio runtime, which panics inside another runtime).
    fn with_entry<T: Send>(
        &self,
        account: &str,
        op: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send,
    ) -> Result<T> {
        let service = self.service.as_str();
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("keychain".into())
                .spawn_scoped(scope, move || {
                    let entry = keyring::Entry::new(service, account)?;
                    op(&entry)
                })
                .map_err(|e| Error::Keychain(format!("cannot start the keychain thread: {e}")))?;
            match worker.join() {
                Ok(result) => result.map_err(|e| keychain_error(account, e)),
                Err(_) => Err(Error::Keychain(
                    "the keychain library failed unexpectedly".into(),
                )),
            }
        })
    }
}

/// A clear message for a keyring error. Never includes the token.
fn keychain_error(account: &str, e: keyring::Error) -> Error {
    let message = match e {
        keyring::Error::NoStorageAccess(cause) => {
            format!("the keychain is locked or unavailable: {cause}")
        }
        keyring::Error::PlatformFailure(cause) => {
            format!("the keychain failed: {cause}")
        }
        keyring::Error::NoEntry => format!("no saved sign-in for {account}"),
        keyring::Error::BadEncoding(_) => {
            format!("the saved sign-in for {account} is not text; sign in again")
        }
        keyring::Error::TooLong(attribute, limit) => {
            format!("the keychain refuses a {attribute} longer than {limit}")
        }
        keyring::Error::Invalid(attribute, reason) => {
            format!("the keychain refuses the {attribute}: {reason}")
        }
        keyring::Error::Ambiguous(found) => {
            format!(
                "the keychain holds {} sign-ins for {account}; remove the extra ones",
                found.len()
            )
        }
        other => format!("{other}"),
    };
    Error::Keychain(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_joins_url_and_email() {
        assert_eq!(
            Credentials::account("https://chat.example.com", "ada@example.com"),
            "https://chat.example.com|ada@example.com"
        );
    }

    #[test]
    fn locked_keychain_message_says_so() {
        let e = keychain_error(
            "u|e",
            keyring::Error::NoStorageAccess("prompt dismissed".into()),
        );
        assert_eq!(
            e.to_string(),
            "keychain: the keychain is locked or unavailable: prompt dismissed"
        );
    }
}
