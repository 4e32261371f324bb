//! `agent-inbox-cli`, the built binary, against a real service: `login --print-token` (no
//! keychain) remembers the service and the email, `status` prints the engine's state with the
//! agent's live chat, and `send` delivers a message the visitor receives.

mod common;

use std::path::Path;
use std::process::Output;

use chat_service::{Config, RunningService};
use common::*;
use protocol::*;
use sim::agent::AgentClient;
use sim::visitor::VisitorClient;

/// Runs the CLI with a private home, config and data folder and no session bus (so that the
/// keychain can never be touched), plus `env`.
async fn cli(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-inbox-cli"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("AGENT_INBOX_CONFIG_DIR", home.join("agent-inbox-config"))
        .env("AGENT_INBOX_DATA_DIR", home.join("agent-inbox-data"))
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(WAIT * 2, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("agent-inbox-cli {args:?} did not finish"))
        .expect("run agent-inbox-cli");
    assert!(
        out.status.success(),
        "agent-inbox-cli {args:?}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

#[tokio::test]
async fn login_status_and_send_through_the_cli() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = Config::for_db(dir.path().join("chat.db"));
    config.visitor_messages_per_10s = 1_000_000;
    create_agents(&config.db, 1).await;
    let service = RunningService::start(config).await.expect("service");
    let url = service.url();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");

    // login --print-token: the token on stdout, the service and email remembered.
    let out = cli(
        &home,
        &["login", "--print-token"],
        &[
            ("AGENT_INBOX_URL", &url),
            ("AGENT_INBOX_EMAIL", &email(0)),
            ("AGENT_INBOX_PASSWORD", PASSWORD),
        ],
    )
    .await;
    let token = stdout(&out).trim().to_owned();
    assert!(
        token.len() >= 32 && token.chars().all(|c| c.is_ascii_alphanumeric()),
        "a token on stdout: {token:?}"
    );
    sim::http::ApiClient::new(&url)
        .expect("api")
        .with_token(token.clone())
        .me()
        .await
        .expect("the printed token is a valid agent token");

    // A live chat of agent 0, accepted on another connection of the same agent.
    let (mut agent, _, _) = AgentClient::login(&url, &email(0), PASSWORD)
        .await
        .expect("agent socket");
    let mut visitor = VisitorClient::start(&url, Some("Cli Carla"), None)
        .await
        .expect("visitor");
    visitor
        .start_chat("anyone on the command line?")
        .await
        .expect("start");
    let offer = agent.expect_offer(WAIT).await.expect("offer");
    agent.accept(offer.id).await.expect("accept");
    visitor.expect_agent_joined(WAIT).await.expect("joined");
    let conversation = offer.conversation_id;

    // status: no --url or --email, the token from the environment.
    let token_env = [("AGENT_INBOX_TOKEN", token.as_str())];
    let out = cli(&home, &["status"], &token_env).await;
    let state: serde_json::Value =
        serde_json::from_str(stdout(&out).trim()).expect("status prints one JSON object");
    assert_eq!(state["connection"]["state"], "connected", "{state}");
    assert_eq!(state["agent"]["email"], email(0), "{state}");
    assert_eq!(state["availability"]["effective"], "available", "{state}");
    let chats = state["chats"].as_array().expect("chats");
    assert_eq!(chats.len(), 1, "{state}");
    assert_eq!(chats[0]["summary"]["id"], conversation.0, "{state}");
    assert_eq!(state["outbox_len"], 0, "{state}");

    // send: acknowledged, and the visitor gets it.
    let text = "Sent from agent-inbox-cli";
    let out = cli(
        &home,
        &["send", &conversation.0.to_string(), text],
        &token_env,
    )
    .await;
    assert!(stdout(&out).starts_with("sent ("), "{}", stdout(&out));
    let got = visitor
        .expect_agent_message(WAIT)
        .await
        .expect("the visitor gets the CLI's message");
    assert_eq!(
        got.content,
        MessageContent::Text {
            text: text.to_owned()
        }
    );
    assert_eq!(got.conversation_id, conversation);

    // A bad token is a clear failure, not a hang.
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-inbox-cli"));
    let bad = cmd
        .arg("status")
        .env_clear()
        .env("HOME", &home)
        .env("AGENT_INBOX_CONFIG_DIR", home.join("agent-inbox-config"))
        .env("AGENT_INBOX_TOKEN", "not-a-token")
        .kill_on_drop(true)
        .output();
    let bad = tokio::time::timeout(WAIT * 2, bad)
        .await
        .expect("status with a bad token finishes")
        .expect("run");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("signed out"), "{err}");

    drop(agent);
    service.stop().await.expect("clean stop");
}
