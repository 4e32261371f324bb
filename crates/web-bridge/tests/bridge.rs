//! The web bridge against a real chat service on 127.0.0.1:0: the UI's files with the web
//! marker, the shell's commands over `POST /rpc/<command>` (errors as `{code, message}`), the
//! shell's events over `/events`, and the same-origin guard.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agent_core::config::ConfigFile;
use agent_core::notifier::NoNotifier;
use agent_core::session::Session;
use chat_service::store::{NewAgent, SqliteStore, Store};
use chat_service::{Config, RunningService};
use futures_util::StreamExt;
use protocol::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, http::HeaderValue};
use web_bridge::Events;

const PASSWORD: &str = "correct horse battery staple";
const EMAIL: &str = "web@test.example";
const WAIT: Duration = Duration::from_secs(15);

struct Setup {
    _dirs: Vec<tempfile::TempDir>,
    _service: RunningService,
    service_url: String,
    addr: SocketAddr,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Setup {
    async fn start() -> Setup {
        let sdir = tempfile::tempdir().expect("tmp");
        let mut config = Config::for_db(sdir.path().join("chat.db"));
        config.visitor_messages_per_10s = 10_000;
        let store = SqliteStore::open(&config.db, false, 10)
            .await
            .expect("store");
        store
            .create_agent(NewAgent {
                email: EMAIL.into(),
                name: "Web Agent".into(),
                password_hash: chat_service::auth::hash_password(PASSWORD).expect("hash"),
                settings: AgentSettings::around_the_clock(30, 0),
            })
            .await
            .expect("agent");
        store.close().await;
        let service = RunningService::start(config).await.expect("service");
        let service_url = service.url();

        // The UI's build, as `npm run build` lays it out.
        let dist = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dist.path().join("index.html"),
            "<!doctype html><html><head><title>Agent Inbox</title></head><body></body></html>",
        )
        .expect("index");
        std::fs::create_dir(dist.path().join("assets")).expect("assets");
        std::fs::write(dist.path().join("assets/app.js"), "console.log(1);").expect("js");

        // No D-Bus here: the keychain is unavailable, and signing in still works for this run.
        let adir = tempfile::tempdir().expect("tmp");
        let events = Events::default();
        let forward = events.clone();
        let session = Arc::new(Session::new(
            ConfigFile::new(adir.path().join("config.json")),
            adir.path().join("data"),
            Arc::new(NoNotifier),
            Box::new(move |core| forward.forward(core)),
            None,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = web_bridge::router(session, events, dist.path().to_path_buf(), addr);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(web_bridge::run(listener, router, async move {
            let _ = stopped.await;
        }));
        Setup {
            _dirs: vec![sdir, dist, adir],
            _service: service,
            service_url,
            addr,
            http: reqwest::Client::new(),
            stop: Some(stop),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST /rpc/<command>` as the page does: status and JSON body.
    async fn rpc(&self, command: &str, args: Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(&format!("/rpc/{command}")))
            .header("Origin", format!("http://{}", self.addr))
            .json(&args)
            .send()
            .await
            .expect("rpc");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json answer"))
    }

    async fn ok(&self, command: &str, args: Value) -> Value {
        let (status, body) = self.rpc(command, args).await;
        assert_eq!(status, 200, "{command}: {body}");
        body
    }

    async fn err(&self, command: &str, args: Value) -> (u16, Value) {
        let (status, body) = self.rpc(command, args).await;
        assert!(status >= 400, "{command} should fail: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        (status, body)
    }

    async fn events(&self) -> EventSocket {
        let mut req = format!("ws://{}/events", self.addr)
            .into_client_request()
            .expect("request");
        req.headers_mut().insert(
            "Origin",
            HeaderValue::from_str(&format!("http://{}", self.addr)).expect("origin"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("events socket");
        EventSocket { ws }
    }
}

struct EventSocket {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl EventSocket {
    /// The next pushed event (name, payload) matching `pred`; the others are skipped.
    async fn until(&mut self, what: &str, pred: impl Fn(&str, &Value) -> bool) -> Value {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(msg) = self.ws.next().await {
                let tungstenite::Message::Text(text) = msg.expect("frame") else {
                    continue;
                };
                let v: Value = serde_json::from_str(&text).expect("json event");
                let name = v["event"].as_str().expect("event name").to_owned();
                if pred(&name, &v["payload"]) {
                    return Some(v["payload"].clone());
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(v)) => v,
            Ok(None) => panic!("the events socket closed before {what}"),
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

#[tokio::test]
async fn serves_the_ui_with_the_web_marker_and_nothing_outside_it() {
    let s = Setup::start().await;
    let res = s.http.get(s.url("/")).send().await.expect("index");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html"))
    );
    let html = res.text().await.expect("html");
    assert!(
        html.contains(
            r#"<head>
    <meta name="agent-inbox-backend" content="web">"#
        ),
        "{html}"
    );
    let js = s
        .http
        .get(s.url("/assets/app.js"))
        .send()
        .await
        .expect("js");
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/javascript"))
    );
    assert_eq!(js.text().await.expect("body"), "console.log(1);");
    for path in [
        "/missing.js",
        "/assets/%2e%2e/%2e%2e/etc/passwd",
        "/../Cargo.toml",
    ] {
        let res = s.http.get(s.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn refuses_other_origins_and_hosts() {
    let s = Setup::start().await;
    let res = s
        .http
        .post(s.url("/rpc/get_preferences"))
        .header("Origin", "http://evil.example")
        .json(&json!({}))
        .send()
        .await
        .expect("rpc");
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "origin_not_allowed");

    // DNS rebinding: a foreign name resolving to 127.0.0.1.
    let res = s
        .http
        .get(s.url("/"))
        .header("Host", format!("evil.example:{}", s.addr.port()))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 403);

    let mut req = format!("ws://{}/events", s.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("Origin", HeaderValue::from_static("http://evil.example"));
    match tokio_tungstenite::connect_async(req).await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("a foreign page opened the events socket: {other:?}"),
    }
}

#[tokio::test]
async fn commands_and_events_work_end_to_end_with_errors_as_code_and_message() {
    let s = Setup::start().await;
    let url = s.service_url.clone();

    // Not signed in: nothing remembered, and commands that need a session say so.
    assert_eq!(s.ok("session_restore", json!({})).await, Value::Null);
    let (status, err) = s.err("get_state", json!({})).await;
    assert_eq!((status, err["code"].as_str()), (401, Some("unauthorized")));
    let (status, err) = s.err("no_such_command", json!({})).await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
    let (status, err) = s.err("login", json!({"serviceUrl": url})).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("bad_request")));
    let (_, err) = s
        .err(
            "login",
            json!({"serviceUrl": url, "email": EMAIL, "password": "nope"}),
        )
        .await;
    assert_eq!(err["code"], "unauthorized");
    let (_, err) = s
        .err(
            "login",
            json!({"serviceUrl": "ftp://x", "email": "a", "password": "b"}),
        )
        .await;
    assert_eq!(err["code"], "invalid_field");

    // The page's start-up marks go to the log; nonsense is refused with its code.
    let marks = json!({"agent-inbox:inbox": 210.0});
    let ok = s
        .ok(
            "report_startup",
            json!({"timeOrigin": 1.8e12, "marks": marks}),
        )
        .await;
    assert_eq!(ok, Value::Null);
    let (status, body) = s
        .err("report_startup", json!({"timeOrigin": "soon", "marks": {}}))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let (_, body) = s
        .err("report_startup", json!({"timeOrigin": 0, "marks": {}}))
        .await;
    assert_eq!(body["code"], "invalid_field");

    // Sign in (the same camelCase arguments as the Tauri command).
    let mut events = s.events().await;
    let info = s
        .ok(
            "login",
            json!({"serviceUrl": url, "email": EMAIL, "password": PASSWORD}),
        )
        .await;
    assert_eq!(info["agent"]["name"], "Web Agent");
    assert_eq!(s.ok("session_restore", json!({})).await, info);
    let prefs = s.ok("get_preferences", json!({})).await;
    assert_eq!(prefs["service_url"], url.as_str(), "the URL is remembered");
    events
        .until("the connected state", |name, p| {
            name == "state://changed" && p["state"]["connection"]["state"] == "connected"
        })
        .await;

    // A socket opened now starts with the current state.
    let mut late = s.events().await;
    late.until("the current state first", |name, p| {
        name == "state://changed" && p["state"]["connection"]["state"] == "connected"
    })
    .await;

    // A visitor asks for a chat: the offer arrives as an engine event and in the state.
    let mut visitor = sim::visitor::VisitorClient::start(&url, Some("<b>Vic</b>"), None)
        .await
        .expect("visitor");
    visitor
        .start_chat("Hello from the widget")
        .await
        .expect("start chat");
    let offer = events
        .until("the offer event", |name, p| {
            name == "core://event" && p["kind"] == "offer_received"
        })
        .await;
    let offer_id = offer["offer"]["id"].clone();
    assert_eq!(offer["offer"]["visitor"]["name"], "<b>Vic</b>");
    assert_eq!(
        s.ok("accept_offer", json!({"offerId": offer_id})).await,
        Value::Null
    );
    let (status, err) = s.err("decline_offer", json!({"offerId": offer_id})).await;
    assert_eq!((status, err["code"].as_str()), (409, Some("conflict")));
    let state = events
        .until("the live chat in the state", |name, p| {
            name == "state://changed"
                && p["state"]["chats"].as_array().is_some_and(|c| c.len() == 1)
        })
        .await;
    let conversation_id = state["state"]["chats"][0]["summary"]["id"].clone();
    assert_eq!(
        s.ok("get_state", json!({})).await["chats"][0]["summary"]["id"],
        conversation_id
    );

    // The agent answers; the visitor receives it.
    let client_id = s
        .ok(
            "send_message",
            json!({"conversationId": conversation_id, "text": "Hi Vic!"}),
        )
        .await;
    assert!(client_id.as_str().is_some_and(|c| !c.is_empty()));
    let got = visitor
        .expect_agent_message(WAIT)
        .await
        .expect("visitor receives");
    assert_eq!(
        got.content,
        MessageContent::Text {
            text: "Hi Vic!".into()
        }
    );

    // Reads through the REST client.
    let active = s
        .ok(
            "list_conversations",
            json!({"scope": "active", "query": null, "cursor": null, "limit": 50}),
        )
        .await;
    assert_eq!(active["items"].as_array().map(Vec::len), Some(1));
    let page = s
        .ok(
            "get_messages",
            json!({"conversationId": conversation_id, "before": null, "limit": 100}),
        )
        .await;
    let texts: Vec<_> = page["items"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"]["text"].as_str())
        .collect();
    assert_eq!(texts, ["Hello from the widget", "Hi Vic!"]);
    let settings = s.ok("get_settings", json!({})).await;
    assert_eq!(
        s.ok("put_settings", json!({"settings": settings})).await,
        settings
    );
    let (_, err) = s
        .err("get_visitor", json!({"conversationId": 999_999}))
        .await;
    assert_eq!(err["code"], "not_found");

    // The visitor leaves: the engine says so.
    visitor.end_chat().await.expect("end");
    events
        .until("the conversation_ended event", |name, p| {
            name == "core://event" && p["kind"] == "conversation_ended"
        })
        .await;

    // Sign out: commands need a session again.
    assert_eq!(s.ok("logout", json!({})).await, Value::Null);
    let (_, err) = s.err("get_state", json!({})).await;
    assert_eq!(err["code"], "unauthorized");
}
