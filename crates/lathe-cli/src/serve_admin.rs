//! `lathe serve user add|list|remove|passwd|webhook` and `lathe serve token create|revoke`: the
//! studio's accounts, kept in the service's database (the data folder's SQLite, or PostgreSQL
//! with `--db`; the service may be running: both take concurrent writers).

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use lathe_engine::error::{EXIT_BAD_INPUT, EXIT_FAILURE};
use lathe_server::accounts::{AccountError, Accounts, Role};

#[derive(Subcommand)]
pub enum ServeAdmin {
    /// Accounts: who may log in, and as what.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens for scripts (`Authorization: Bearer TOKEN`).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from the first line of standard input.
    Add {
        name: String,
        /// client (sees its own projects), engineer (all projects), admin.
        #[arg(long)]
        role: String,
        /// Read the password from standard input (the only way: never on the command line,
        /// where other users of the machine could see it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the users and their roles.
    List,
    /// Remove user NAME with their tokens, sessions and webhook (their projects stay).
    Remove { name: String },
    /// Set user NAME's password from the first line of standard input; ends their browser
    /// sessions.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set user NAME's webhook URL (the signing secret is printed once), or remove it with
    /// --off. The service POSTs there when a revision is rendered or fails and when a client
    /// approves or asks for changes, on every project NAME may see.
    Webhook {
        name: String,
        /// http:// or https:// URL.
        #[arg(required_unless_present = "off", conflicts_with = "off")]
        url: Option<String>,
        /// Remove the webhook.
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token for user NAME; it is printed once (only its hash is kept).
    Create { name: String },
    /// Revoke every API token of user NAME.
    Revoke { name: String },
}

fn open(data: &Path, db: Option<&str>) -> Result<Accounts, String> {
    let database = lathe_server::records::Database::parse(db, data)?;
    if db.is_none() {
        std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
    }
    database.open_accounts()
}

fn code(e: &AccountError) -> ExitCode {
    match e {
        AccountError::Database(_) | AccountError::Secret(_) => ExitCode::from(EXIT_FAILURE),
        _ => ExitCode::from(EXIT_BAD_INPUT),
    }
}

pub fn run(admin: &ServeAdmin, data: &Path, db: Option<&str>) -> ExitCode {
    let accounts = match open(data, db) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lathe: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let done = match admin {
        ServeAdmin::User {
            command: UserCommand::Add { name, role, .. },
        } => add_user(&accounts, name, role),
        ServeAdmin::User {
            command: UserCommand::List,
        } => accounts.users().map(|users| {
            for u in users {
                println!("{}\t{}", u.name, u.role.as_str());
            }
        }),
        ServeAdmin::User {
            command: UserCommand::Webhook { name, url, off },
        } => webhook(&accounts, name, url.as_deref(), *off),
        ServeAdmin::User {
            command: UserCommand::Remove { name },
        } => accounts
            .remove_user(name)
            .map(|()| eprintln!("lathe: removed {name}")),
        ServeAdmin::User {
            command: UserCommand::Passwd { name, .. },
        } => read_password().and_then(|p| {
            accounts
                .set_password(name, &p)
                .map(|()| eprintln!("lathe: new password for {name}; their sessions ended"))
        }),
        ServeAdmin::Token {
            command: TokenCommand::Revoke { name },
        } => accounts
            .revoke_tokens(name)
            .map(|n| eprintln!("lathe: revoked {n} token(s) of {name}")),
        ServeAdmin::Token {
            command: TokenCommand::Create { name },
        } => accounts.create_token(name).map(|t| println!("{t}")),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lathe: {e}");
            code(&e)
        }
    }
}

fn add_user(accounts: &Accounts, name: &str, role: &str) -> Result<(), AccountError> {
    let Some(role) = Role::parse(role) else {
        return Err(AccountError::BadRole(role.to_string()));
    };
    let password = read_password()?;
    let user = accounts.add_user(name, role, &password)?;
    eprintln!("lathe: added {} ({})", user.name, user.role.as_str());
    Ok(())
}

fn webhook(
    accounts: &Accounts,
    name: &str,
    url: Option<&str>,
    off: bool,
) -> Result<(), AccountError> {
    match (url, off) {
        (Some(url), false) => {
            let secret = accounts.set_webhook(name, url)?;
            eprintln!("lathe: webhook of {name} set; its signing secret (shown once):");
            println!("{secret}");
            Ok(())
        }
        _ => {
            if accounts.clear_webhook(name)? {
                eprintln!("lathe: webhook of {name} removed");
            } else {
                eprintln!("lathe: {name} had no webhook");
            }
            Ok(())
        }
    }
}

/// The first line of standard input, without its line end.
fn read_password() -> Result<String, AccountError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| AccountError::Secret(format!("cannot read the password: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
