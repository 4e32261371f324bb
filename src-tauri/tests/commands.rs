//! The shell's commands through Tauri's IPC (mock runtime, no display) against a real chat
//! service: sign in, state, lists, offers, messages, errors as `{code, message}`.

use std::sync::Arc;
use std::time::Duration;

use agent_core::config::ConfigFile;
use agent_core::notifier::NoNotifier;
use agent_inbox_lib::{Paths, build};
use chat_service::store::{NewAgent, SqliteStore, Store};
use chat_service::{Config, RunningService};
use protocol::*;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

const PASSWORD: &str = "correct horse battery staple";

fn invoke(webview: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(webview, request).map(|b| b.deserialize::<Value>().expect("json body"))
}

async fn service() -> (tempfile::TempDir, RunningService) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = Config::for_db(dir.path().join("chat.db"));
    config.visitor_messages_per_10s = 10_000;
    let store = SqliteStore::open(&config.db, false, 10)
        .await
        .expect("store");
    store
        .create_agent(NewAgent {
            email: "shell@test.example".into(),
            name: "Shell Agent".into(),
            password_hash: chat_service::auth::hash_password(PASSWORD).expect("hash"),
            settings: AgentSettings::around_the_clock(30, 0),
        })
        .await
        .expect("agent");
    store.close().await;
    (dir, RunningService::start(config).await.expect("service"))
}

fn app(dir: &std::path::Path) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let paths = Paths {
        prefs: ConfigFile::new(dir.join("config.json")),
        data_dir: dir.join("data"),
        tray: false,
        check_notifications: None,
    };
    let mut app = build(mock_builder(), Arc::new(NoNotifier), paths, |_, _| {})
        .build(mock_context(noop_assets()))
        .expect("app builds");
    // The setup hook runs when the event loop starts; one iteration of the mock loop runs it.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("window");
    (app, webview)
}

/// Polls a command until `pred` holds (each call is a real IPC round trip), at most 15 s.
fn until(
    webview: &WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(v) = invoke(webview, cmd, args.clone())
            && pred(&v)
        {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{cmd} never satisfied the condition"
        );
        std::thread::yield_now();
    }
}

#[test]
fn commands_work_end_to_end_and_errors_are_code_and_message() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (_sdir, svc) = rt.block_on(service());
    let url = svc.url();
    let adir = tempfile::tempdir().expect("tmp");
    // No D-Bus here: the keychain is unavailable, and signing in still works for this run.
    let (_app, webview) = app(adir.path());

    // Not signed in yet: a clear error, not a crash.
    let err = invoke(&webview, "get_state", json!({})).expect_err("not signed in");
    assert_eq!(err["code"], "unauthorized");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));

    // The window's start-up marks go to the log, signed in or not; nonsense is refused.
    let marks = json!({"agent-inbox:state": 60.5, "agent-inbox:inbox": 128.0});
    let ok = invoke(
        &webview,
        "report_startup",
        json!({"timeOrigin": 1.8e12, "marks": marks}),
    );
    assert_eq!(ok, Ok(Value::Null));
    let err = invoke(
        &webview,
        "report_startup",
        json!({"timeOrigin": 1.8e12, "marks": {"agent-inbox:inbox": -5}}),
    )
    .expect_err("a negative mark");
    assert_eq!(err["code"], "invalid_field");

    // Wrong password and a bad URL.
    let err = invoke(
        &webview,
        "login",
        json!({"serviceUrl": url, "email": "shell@test.example", "password": "nope"}),
    )
    .expect_err("wrong password");
    assert_eq!(err["code"], "unauthorized");
    let err = invoke(
        &webview,
        "login",
        json!({"serviceUrl": "ftp://x", "email": "a", "password": "b"}),
    )
    .expect_err("bad url");
    assert_eq!(err["code"], "invalid_field");

    let info = invoke(
        &webview,
        "login",
        json!({"serviceUrl": url, "email": "shell@test.example", "password": PASSWORD}),
    )
    .expect("login");
    assert_eq!(info["agent"]["name"], "Shell Agent");
    let prefs = invoke(&webview, "get_preferences", json!({})).expect("prefs");
    assert_eq!(prefs["service_url"], url.as_str(), "the URL is remembered");

    until(&webview, "get_state", json!({}), |s| {
        s["connection"]["state"] == "connected"
    });

    // A visitor asks for a chat: the offer is in the state; accept it through the command.
    let mut visitor = rt
        .block_on(sim::visitor::VisitorClient::start(
            &url,
            Some("<b>Vic</b>"),
            None,
        ))
        .expect("visitor");
    rt.block_on(visitor.start_chat("Hello from the widget"))
        .expect("start chat");
    let state = until(&webview, "get_state", json!({}), |s| {
        s["offers"].as_array().is_some_and(|o| !o.is_empty())
    });
    let offer_id = state["offers"][0]["offer"]["id"].clone();
    assert_eq!(
        state["offers"][0]["offer"]["visitor"]["name"], "<b>Vic</b>",
        "visitor text arrives as data"
    );
    invoke(&webview, "accept_offer", json!({"offerId": offer_id})).expect("accept");
    let err =
        invoke(&webview, "decline_offer", json!({"offerId": offer_id})).expect_err("answered once");
    assert_eq!(err["code"], "conflict");
    let state = until(&webview, "get_state", json!({}), |s| {
        s["chats"].as_array().is_some_and(|c| c.len() == 1)
    });
    let conversation_id = state["chats"][0]["summary"]["id"].clone();

    invoke(
        &webview,
        "send_message",
        json!({"conversationId": conversation_id, "text": "Hi Vic!"}),
    )
    .expect("send");
    let got = rt
        .block_on(visitor.expect_agent_message(Duration::from_secs(10)))
        .expect("visitor receives");
    assert_eq!(
        got.content,
        MessageContent::Text {
            text: "Hi Vic!".into()
        }
    );

    let visitor_info = invoke(
        &webview,
        "get_visitor",
        json!({"conversationId": conversation_id}),
    )
    .expect("visitor");
    assert!(
        visitor_info.get("phone").is_none(),
        "missing fields are absent"
    );
    let active = invoke(
        &webview,
        "list_conversations",
        json!({"scope": "active", "query": null, "cursor": null, "limit": 50}),
    )
    .expect("list");
    assert_eq!(active["items"].as_array().map(Vec::len), Some(1));
    let calendars = invoke(&webview, "list_calendars", json!({})).expect("calendars");
    let agent_id = calendars[0]["agent_id"].clone();
    let slots = invoke(
        &webview,
        "get_slots",
        json!({"agentId": agent_id, "days": 3}),
    )
    .expect("slots");
    assert!(slots["slots"].as_array().is_some_and(|s| !s.is_empty()));
    invoke(
        &webview,
        "share_calendar",
        json!({"conversationId": conversation_id, "calendarAgentId": agent_id}),
    )
    .expect("share");

    // Bad input through IPC: a clear error, and the app goes on.
    let err = invoke(
        &webview,
        "send_message",
        json!({"conversationId": conversation_id, "text": "  "}),
    )
    .expect_err("blank");
    assert_eq!(err["code"], "invalid_field");
    assert!(
        invoke(
            &webview,
            "send_message",
            json!({"conversationId": "not a number", "text": "x"})
        )
        .is_err()
    );
    let err = invoke(&webview, "put_settings", json!({"settings": {"time_zone": "Mars/Base", "schedule": [], "calendar": {"working_hours": [], "meeting_minutes": 30, "buffer_minutes": 0}}}))
        .expect_err("unknown zone");
    assert_eq!(err["code"], "invalid_field");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("time_zone"))
    );

    invoke(
        &webview,
        "end_chat",
        json!({"conversationId": conversation_id}),
    )
    .expect("end");
    until(&webview, "get_state", json!({}), |s| {
        s["chats"].as_array().is_some_and(Vec::is_empty)
    });
    let transcript = invoke(
        &webview,
        "get_transcript",
        json!({"conversationId": conversation_id}),
    )
    .expect("transcript");
    assert!(transcript.as_str().is_some_and(|t| t.contains("Hi Vic!")));

    invoke(&webview, "logout", json!({})).expect("logout");
    assert_eq!(
        invoke(&webview, "get_state", json!({})).expect_err("signed out")["code"],
        "unauthorized"
    );
    rt.block_on(svc.stop()).expect("stop");
}
