//! The desktop integrations against real D-Bus services: native notifications through
//! notify-rust to a notification server (python3-dbusmock's, which records every call and
//! emits the signals a click would), and credentials through gnome-keyring's Secret Service.
//!
//! Each test runs in a private session of its own (see `support/dbus.rs`): its own bus, mock
//! and keyring, in a child process of this test binary.

mod common;
mod support;

use std::time::Duration;

use agent_core::credentials::Credentials;
use agent_core::notifier::{
    AnswerSink, DesktopNotifier, NotificationAction, Notifier, OfferAnswer,
};
use chrono::Utc;
use protocol::{
    Author, ConversationId, Message, MessageContent, MessageId, Offer, OfferId, VisitorId,
    VisitorInfo,
};
use support::dbus::{self, NotificationMock, WAIT};
use tokio::sync::mpsc;

fn offer(id: i64, name: Option<&str>, first_message: Option<&str>) -> Offer {
    Offer {
        id: OfferId(id),
        conversation_id: ConversationId(100 + id),
        visitor: VisitorInfo {
            id: VisitorId(200 + id),
            name: name.map(str::to_owned),
            ..VisitorInfo::default()
        },
        first_message: first_message.map(str::to_owned),
        created_at: Utc::now(),
        expires_at: Utc::now() + chrono::Duration::seconds(45),
    }
}

/// Polls until the notifier reports the server's id for the offer's notification.
async fn shown_id(notifier: &DesktopNotifier, offer_id: OfferId) -> u32 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(id) = notifier.notification_id(offer_id) {
            return id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "offer {offer_id} was never shown"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next_action(
    rx: &mut mpsc::Receiver<NotificationAction>,
    what: &str,
) -> NotificationAction {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no action within {WAIT:?}: expected {what}"))
        .expect("the sink is open")
}

#[test]
fn offer_raises_a_notification_with_accept_and_decline() {
    dbus::run(
        "offer_raises_a_notification_with_accept_and_decline",
        async {
            let mock = NotificationMock::connect().await;
            let notifier = DesktopNotifier::new();
            let (sink, _rx) = AnswerSink::channel(8);
            let offer = offer(1, Some("Ada Lovelace"), Some("Do you ship to Norway?"));

            notifier.offer(&offer, Duration::from_secs(38), false, &sink);

            let notifies = mock
                .wait_for_notifies("the offer's Notify", |n| !n.is_empty())
                .await;
            assert_eq!(notifies.len(), 1);
            let n = &notifies[0];
            assert_eq!(n.app_name, "Agent Inbox");
            assert_eq!(n.replaces_id, 0);
            assert_eq!(n.summary, "Chat request from Ada Lovelace");
            assert_eq!(n.body, "Do you ship to Norway? \u{2014} 38 s left");
            let pairs = n.action_pairs();
            for (key, label) in [
                ("accept", "Accept"),
                ("decline", "Decline"),
                ("default", "Open"),
            ] {
                assert!(
                    pairs.contains(&(key.to_owned(), label.to_owned())),
                    "{key}/{label} missing from {pairs:?}"
                );
            }
            assert_eq!(
                n.hint_u8("urgency"),
                Some(2),
                "critical urgency: {:?}",
                n.hints
            );
            assert_eq!(n.hint_str("category").as_deref(), Some("im.received"));
            assert_eq!(
                n.hint_str("sound-name").as_deref(),
                Some("message-new-instant")
            );
            assert!(
                n.timeout > 0 && n.timeout <= 38_000,
                "timeout {}",
                n.timeout
            );
            assert_eq!(shown_id(&notifier, offer.id).await, 1);

            // What the shell can ask to tell the agent whether notifications can answer offers.
            let caps = tokio::task::spawn_blocking(DesktopNotifier::server_capabilities)
                .await
                .expect("join")
                .expect("capabilities");
            assert!(caps.iter().any(|c| c == "actions"), "{caps:?}");
        },
    );
}

#[test]
fn accept_and_decline_on_the_notification_answer_the_offer() {
    dbus::run(
        "accept_and_decline_on_the_notification_answer_the_offer",
        async {
            let mock = NotificationMock::connect().await;
            let notifier = DesktopNotifier::new();
            let (sink, mut rx) = AnswerSink::channel(8);
            let first = offer(1, Some("Ada"), Some("hello"));
            let second = offer(2, None, None);

            notifier.offer(&first, Duration::from_secs(45), false, &sink);
            notifier.offer(&second, Duration::from_secs(45), false, &sink);
            let first_id = shown_id(&notifier, first.id).await;
            let second_id = shown_id(&notifier, second.id).await;
            assert_ne!(first_id, second_id);
            // A visitor without a name and without a first message.
            let notifies = mock.wait_for_notifies("two offers", |n| n.len() == 2).await;
            assert!(
                notifies
                    .iter()
                    .any(|n| n.summary == "Chat request from A visitor" && n.body == "45 s left")
            );

            mock.invoke_action(second_id, "decline").await;
            assert_eq!(
                next_action(&mut rx, "action 1").await,
                NotificationAction::Answer {
                    offer_id: second.id,
                    answer: OfferAnswer::Decline
                }
            );
            mock.invoke_action(first_id, "accept").await;
            assert_eq!(
                next_action(&mut rx, "action 2").await,
                NotificationAction::Answer {
                    offer_id: first.id,
                    answer: OfferAnswer::Accept
                }
            );
            // An answered notification is withdrawn at once.
            mock.wait_for_close(first_id).await;
            mock.wait_for_close(second_id).await;

            // A second click (a server that keeps the notification) answers nothing twice.
            mock.invoke_action(first_id, "accept").await;
            // The barrier: a click on the body of a third offer arrives; nothing came before it.
            let third = offer(3, Some("Grace"), Some("hi"));
            notifier.offer(&third, Duration::from_secs(45), false, &sink);
            let third_id = shown_id(&notifier, third.id).await;
            mock.invoke_action(third_id, "default").await;
            assert_eq!(
                next_action(&mut rx, "action 3").await,
                NotificationAction::Open {
                    conversation_id: Some(third.conversation_id)
                }
            );
        },
    );
}

#[test]
fn close_offer_closes_the_notification_and_silences_it() {
    dbus::run(
        "close_offer_closes_the_notification_and_silences_it",
        async {
            let mock = NotificationMock::connect().await;
            let notifier = DesktopNotifier::new();
            let (sink, mut rx) = AnswerSink::channel(8);
            let first = offer(1, Some("Ada"), Some("hello"));

            notifier.offer(&first, Duration::from_secs(45), false, &sink);
            let id = shown_id(&notifier, first.id).await;
            notifier.close_offer(first.id);
            mock.wait_for_close(id).await;
            // Closing is idempotent.
            notifier.close_offer(first.id);

            // Once the notifier forgot it, a late click on the closed notification does nothing.
            let deadline = tokio::time::Instant::now() + WAIT;
            while notifier.notification_id(first.id).is_some() {
                assert!(tokio::time::Instant::now() < deadline, "never forgotten");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            mock.invoke_action(id, "accept").await;

            // Barrier: the next offer's answer is the first thing the sink receives.
            let second = offer(2, Some("Grace"), Some("hi"));
            notifier.offer(&second, Duration::from_secs(45), false, &sink);
            let second_id = shown_id(&notifier, second.id).await;
            assert_ne!(second_id, id);
            mock.invoke_action(second_id, "decline").await;
            assert_eq!(
                next_action(&mut rx, "action 4").await,
                NotificationAction::Answer {
                    offer_id: second.id,
                    answer: OfferAnswer::Decline
                }
            );
            assert!(rx.try_recv().is_err(), "nothing else was sent");
        },
    );
}

#[test]
fn realert_replaces_the_notification() {
    dbus::run("realert_replaces_the_notification", async {
        let mock = NotificationMock::connect().await;
        let notifier = DesktopNotifier::new();
        let (sink, mut rx) = AnswerSink::channel(8);
        let first = offer(1, Some("Ada"), Some("hello"));

        notifier.offer(&first, Duration::from_secs(45), false, &sink);
        let id = shown_id(&notifier, first.id).await;
        // (Each step waits for the server, so the calls' order is known.)
        notifier.offer(&first, Duration::from_secs(30), true, &sink);
        mock.wait_for_notifies("a re-alert", |n| n.len() == 2).await;
        notifier.set_sound(false);
        notifier.offer(&first, Duration::from_secs(25), true, &sink);

        let notifies = mock
            .wait_for_notifies("two re-alerts", |n| n.len() == 3)
            .await;
        assert_eq!(notifies[0].replaces_id, 0);
        assert_eq!(
            notifies[1].replaces_id, id,
            "a re-alert replaces: {notifies:#?}"
        );
        assert_eq!(notifies[2].replaces_id, id);
        assert_eq!(notifies[1].body, "hello \u{2014} 30 s left");
        assert_eq!(
            notifies[1].hint_str("sound-name").as_deref(),
            Some("message-new-instant")
        );
        assert_eq!(notifies[2].hint_str("sound-name"), None, "sound off");
        assert_eq!(notifier.notification_id(first.id), Some(id));

        // The replaced notification still answers.
        mock.invoke_action(id, "accept").await;
        assert_eq!(
            next_action(&mut rx, "action 5").await,
            NotificationAction::Answer {
                offer_id: first.id,
                answer: OfferAnswer::Accept
            }
        );
        // A re-alert racing the answer does not bring the notification back.
        notifier.offer(&first, Duration::from_secs(20), true, &sink);
        notifier.close_offer(first.id);
        let deadline = tokio::time::Instant::now() + WAIT;
        while notifier.notification_id(first.id).is_some() {
            assert!(tokio::time::Instant::now() < deadline, "never closed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(mock.notifies().await.len(), 3);
    });
}

#[test]
fn visitor_markup_is_shown_as_text() {
    dbus::run("visitor_markup_is_shown_as_text", async {
        let mock = NotificationMock::connect().await;
        let notifier = DesktopNotifier::new();
        let (sink, _rx) = AnswerSink::channel(8);
        let offer = offer(
            1,
            Some("<i>Eve</i>"),
            Some("<b>x</b> & <script>alert(1)</script>"),
        );

        notifier.offer(&offer, Duration::from_secs(40), false, &sink);

        let notifies = mock.wait_for_notifies("the offer", |n| !n.is_empty()).await;
        assert_eq!(
            notifies[0].body,
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; \u{2014} 40 s left"
        );
        // The summary is plain text by the specification: shown exactly as given.
        assert_eq!(notifies[0].summary, "Chat request from <i>Eve</i>");
    });
}

#[test]
fn message_notification_opens_its_conversation() {
    dbus::run("message_notification_opens_its_conversation", async {
        let mock = NotificationMock::connect().await;
        let notifier = DesktopNotifier::new();
        let (sink, mut rx) = AnswerSink::channel(8);
        let message = |id: i64, text: &str| Message {
            id: MessageId(id),
            conversation_id: ConversationId(7),
            author: Author::Visitor,
            content: MessageContent::Text { text: text.into() },
            client_id: None,
            created_at: Utc::now(),
        };

        notifier.message("Ada", &message(1, "Are you there?"), &sink);
        mock.wait_for_notifies("a message", |n| n.len() == 1).await;
        notifier.message("Ada", &message(2, "a < b"), &sink);
        let notifies = mock
            .wait_for_notifies("two messages", |n| n.len() == 2)
            .await;
        assert_eq!(notifies[0].summary, "New message from Ada");
        assert_eq!(notifies[0].body, "Are you there?");
        assert_eq!(notifies[0].hint_u8("urgency"), Some(1));
        assert_eq!(
            notifies[0].hint_str("category").as_deref(),
            Some("im.received")
        );
        // The conversation's next message replaces it.
        assert_eq!(notifies[1].replaces_id, 1);
        assert_eq!(notifies[1].body, "a &lt; b");

        mock.invoke_action(1, "default").await;
        assert_eq!(
            next_action(&mut rx, "action 6").await,
            NotificationAction::Open {
                conversation_id: Some(ConversationId(7))
            }
        );

        // Turned off: nothing is raised.
        notifier.set_message_notifications(false);
        notifier.message("Ada", &message(3, "still there?"), &sink);
        let third = offer(1, Some("Grace"), None);
        notifier.offer(&third, Duration::from_secs(45), false, &sink);
        let notifies = mock.wait_for_notifies("the offer", |n| n.len() == 3).await;
        assert_eq!(notifies[2].summary, "Chat request from Grace");
    });
}

#[test]
fn preferences_live_in_the_configured_folder() {
    dbus::run("preferences_live_in_the_configured_folder", async {
        use agent_core::config::{ConfigFile, Preferences, Theme};
        // The session sets AGENT_INBOX_CONFIG_DIR, as a portable install or a test would.
        let dir = std::env::var_os("AGENT_INBOX_CONFIG_DIR").expect("set by the session");
        let file = ConfigFile::default_location().expect("location");
        assert_eq!(file.path(), std::path::Path::new(&dir).join("config.json"));
        assert_eq!(file.load().expect("defaults"), Preferences::default());
        let prefs = Preferences {
            email: Some("ada@example.com".into()),
            theme: Theme::Dark,
            ..Preferences::default()
        };
        file.save(&prefs).expect("save");
        assert_eq!(
            ConfigFile::default_location()
                .expect("location")
                .load()
                .expect("load"),
            prefs
        );
        // No token in it: that is the keychain's.
        let text = std::fs::read_to_string(file.path()).expect("read");
        assert!(!text.contains("token"), "{text}");
    });
}

#[test]
fn credentials_round_trip_through_the_secret_service() {
    dbus::run("credentials_round_trip_through_the_secret_service", async {
        let credentials = Credentials::new();
        let url = "https://chat.example.com";
        let email = "ada@example.com";

        assert_eq!(credentials.load(url, email).expect("load"), None);
        // Called on a tokio runtime thread on purpose: the keyring crate's own runtime must
        // not collide with it.
        credentials.save(url, email, "token-1").expect("save");
        assert_eq!(
            credentials.load(url, email).expect("load").as_deref(),
            Some("token-1")
        );
        credentials.save(url, email, "token-2").expect("replace");
        assert_eq!(
            credentials.load(url, email).expect("load").as_deref(),
            Some("token-2")
        );
        // Another account is another entry.
        assert_eq!(
            credentials.load(url, "grace@example.com").expect("load"),
            None
        );

        // It is in the Secret Service, under the app's service name and account.
        let found = std::process::Command::new("secret-tool")
            .args(["search", "--all", "service", "agent-inbox"])
            .output()
            .expect("secret-tool (libsecret-tools)");
        let listing = format!(
            "{}{}",
            String::from_utf8_lossy(&found.stdout),
            String::from_utf8_lossy(&found.stderr)
        );
        assert!(
            listing.contains("https://chat.example.com|ada@example.com"),
            "{listing}"
        );

        // From a blocking thread too.
        let c = credentials.clone();
        let token = tokio::task::spawn_blocking(move || c.load(url, email))
            .await
            .expect("join")
            .expect("load");
        assert_eq!(token.as_deref(), Some("token-2"));

        credentials.delete(url, email).expect("delete");
        assert_eq!(credentials.load(url, email).expect("load"), None);
        credentials
            .delete(url, email)
            .expect("deleting a missing entry is fine");
    });
}

/// End to end: a real chat service offers a chat, the engine raises it through the desktop
/// notifier, Accept on the notification accepts it on the service; a second offer left
/// unanswered expires and its notification is closed.
#[test]
fn an_offer_from_the_service_is_accepted_on_its_notification_and_expiry_closes_it() {
    dbus::run(
        "an_offer_from_the_service_is_accepted_on_its_notification_and_expiry_closes_it",
        async {
            use agent_core::backoff::Backoff;
            use agent_core::{AgentCore, ApiClient, ConnectionStatus, CoreOptions, ServiceUrl};
            use std::sync::Arc;

            let dir = tempfile::tempdir().expect("tmp");
            let mut config = chat_service::Config::for_db(dir.path().join("chat.db"));
            config.visitor_messages_per_10s = 1_000_000;
            // Short, so that the second offer expires within the test.
            config.offer_timeout_secs = 3.0;
            common::create_agents(&config.db, 1).await;
            let service = chat_service::RunningService::start(config)
                .await
                .expect("service");
            let url = service.url();
            let api = ApiClient::new(ServiceUrl::parse(&url).expect("url")).expect("client");
            let (_, login) = api
                .login(&common::email(0), common::PASSWORD)
                .await
                .expect("login");

            let mock = NotificationMock::connect().await;
            let notifier = Arc::new(DesktopNotifier::new());
            let mut options = CoreOptions::new(ServiceUrl::parse(&url).expect("url"), login.token);
            options.backoff = Backoff {
                base: Duration::from_millis(5),
                max: Duration::from_millis(100),
            };
            options.realert_every = Duration::from_millis(500);
            let core = AgentCore::start(options, notifier.clone()).expect("core");
            core.wait_for(WAIT, |s| s.connection == ConnectionStatus::Connected)
                .await
                .expect("connected");

            // A visitor asks; the offer becomes a notification with Accept and Decline.
            let mut olga = sim::visitor::VisitorClient::start(&url, Some("Olga"), None)
                .await
                .expect("visitor");
            olga.start_chat("Can I <b>change</b> my plan?")
                .await
                .expect("start chat");
            let state = core
                .wait_for(WAIT, |s| !s.offers.is_empty())
                .await
                .expect("offer");
            let offer = state.offers[0].offer.clone();
            let id = shown_id(&notifier, offer.id).await;
            let notifies = mock.wait_for_notifies("the offer", |n| !n.is_empty()).await;
            assert_eq!(notifies[0].summary, "Chat request from Olga");
            assert!(
                notifies[0]
                    .body
                    .starts_with("Can I &lt;b&gt;change&lt;/b&gt; my plan? \u{2014} "),
                "{}",
                notifies[0].body
            );

            // Accept on the notification: the service assigns the chat, the visitor is told,
            // and the notification is withdrawn.
            mock.invoke_action(id, "accept").await;
            core.wait_for(WAIT, |s| {
                s.chat(offer.conversation_id).is_some() && s.offers.is_empty()
            })
            .await
            .expect("the chat is live");
            olga.expect_agent_joined(WAIT).await.expect("visitor told");
            mock.wait_for_close(id).await;

            // A second visitor's offer is left alone: re-alerts replace its notification, and
            // when it expires the notification is closed.
            let mut grace = sim::visitor::VisitorClient::start(&url, Some("Grace"), None)
                .await
                .expect("visitor");
            grace.start_chat("hello?").await.expect("start chat");
            let state = core
                .wait_for(WAIT, |s| !s.offers.is_empty())
                .await
                .expect("second offer");
            let second = state.offers[0].offer.clone();
            let second_id = shown_id(&notifier, second.id).await;
            assert_ne!(second_id, id);
            mock.wait_for_notifies("a re-alert of the second offer", |n| {
                n.iter().any(|n| n.replaces_id == second_id)
            })
            .await;
            core.wait_for(WAIT, |s| s.offers.is_empty())
                .await
                .expect("the offer expired");
            mock.wait_for_close(second_id).await;
            assert!(core.state().chat(second.conversation_id).is_none());

            core.stop().await;
            service.stop().await.expect("service stops");
        },
    );
}

/// R9 presence: a locked screen (the session bus's `ScreenSaver.ActiveChanged`) makes the agent
/// unavailable on the service; unlocking restores what the schedule said.
#[test]
fn a_locked_screen_makes_the_agent_unavailable_and_unlocking_restores_it() {
    dbus::run(
        "a_locked_screen_makes_the_agent_unavailable_and_unlocking_restores_it",
        async {
            use agent_core::presence;
            use agent_core::{AgentCore, ApiClient, ConnectionStatus, CoreOptions, ServiceUrl};
            use protocol::{AvailabilitySource, AvailabilityStatus};
            use std::sync::Arc;

            let dir = tempfile::tempdir().expect("tmp");
            let config = chat_service::Config::for_db(dir.path().join("chat.db"));
            common::create_agents(&config.db, 1).await;
            let service = chat_service::RunningService::start(config)
                .await
                .expect("service");
            let url = ServiceUrl::parse(&service.url()).expect("url");
            let api = ApiClient::new(url.clone()).expect("client");
            let (api, login) = api
                .login(&common::email(0), common::PASSWORD)
                .await
                .expect("login");
            let core = Arc::new(
                AgentCore::start(
                    CoreOptions::new(url, login.token),
                    Arc::new(agent_core::notifier::NoNotifier),
                )
                .expect("core"),
            );
            core.wait_for(WAIT, |s| {
                s.connection == ConnectionStatus::Connected
                    && s.availability
                        .as_ref()
                        .is_some_and(|a| a.effective == AvailabilityStatus::Available)
            })
            .await
            .expect("connected and available by schedule");

            // What the shell does: follow the OS when the agent asked for it.
            let (tx, mut rx) = tokio::sync::mpsc::channel(8);
            presence::watch(tx).expect("presence thread");
            let forward = core.clone();
            let forwarder = tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(signal) = rx.recv().await {
                    forward.presence(signal, true);
                    seen.push(signal);
                }
                seen
            });

            let screensaver = zbus::Connection::session().await.expect("session bus");
            let lock = |locked: bool| {
                let screensaver = screensaver.clone();
                async move {
                    screensaver
                        .emit_signal(
                            None::<&str>,
                            "/org/freedesktop/ScreenSaver",
                            "org.freedesktop.ScreenSaver",
                            "ActiveChanged",
                            &(locked,),
                        )
                        .await
                        .expect("emit ActiveChanged");
                }
            };
            // The watcher subscribes on its own thread: repeat the signal until it is heard
            // (a lock is idempotent), bounded by the wait.
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                lock(true).await;
                let away = core
                    .wait_for(Duration::from_millis(200), |s| {
                        s.availability
                            .as_ref()
                            .is_some_and(|a| a.effective == AvailabilityStatus::Unavailable)
                    })
                    .await;
                if away.is_ok() {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the lock was never followed"
                );
            }
            let me = api.me().await.expect("me");
            assert_eq!(
                me.availability.effective,
                AvailabilityStatus::Unavailable,
                "the service knows"
            );

            lock(false).await;
            let state = core
                .wait_for(WAIT, |s| {
                    s.availability.as_ref().is_some_and(|a| {
                        a.effective == AvailabilityStatus::Available
                            && a.source == AvailabilitySource::Schedule
                    })
                })
                .await
                .expect("unlocking restores the schedule");
            assert_eq!(state.outbox_len, 0);
            core.stop().await;
            drop(screensaver);
            forwarder.abort();
            service.stop().await.expect("stop");
        },
    );
}

/// R9: the connection is re-established at once when the network comes back. The service is
/// killed, the engine backs off (an hour at most in this test, and the drawn delay is checked
/// to be at least a minute away), the service comes back, and NetworkManager's
/// `StateChanged` reaching `CONNECTED_GLOBAL` on the (stand-in) system bus reconnects the
/// engine well before its backoff would; availability is not touched.
#[test]
fn the_network_coming_back_reconnects_at_once() {
    dbus::run("the_network_coming_back_reconnects_at_once", async {
        use agent_core::backoff::Backoff;
        use agent_core::presence;
        use agent_core::{AgentCore, ApiClient, ConnectionStatus, CoreOptions, ServiceUrl};
        use protocol::{AvailabilitySource, AvailabilityStatus};
        use std::sync::Arc;

        /// The backoff delay drawn after the loss must leave at least this long.
        const FAR: Duration = Duration::from_secs(60);

        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("chat.db");
        common::create_agents(&db, 1).await;
        let service = common::ServiceProcess::spawn(&db, "127.0.0.1:0".parse().expect("addr"));
        let url = ServiceUrl::parse(&service.url()).expect("url");
        let api = ApiClient::new(url.clone()).expect("client");
        let (_api, login) = api
            .login(&common::email(0), common::PASSWORD)
            .await
            .expect("login");
        let mut options = CoreOptions::new(url, login.token);
        options.backoff = Backoff {
            base: Duration::from_secs(3600),
            max: Duration::from_secs(3600),
        };
        let core = Arc::new(
            AgentCore::start(options, Arc::new(agent_core::notifier::NoNotifier)).expect("core"),
        );
        let state = core
            .wait_for(WAIT, |s| {
                s.connection == ConnectionStatus::Connected
                    && s.availability
                        .as_ref()
                        .is_some_and(|a| a.effective == AvailabilityStatus::Available)
            })
            .await
            .expect("connected and available by schedule");
        let connections =
            |s: &agent_core::ClientState| s.resumed_connections + s.snapshot_connections;
        let before = connections(&state);

        // What the shell does (following the OS, so that a change of availability would show).
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        presence::watch(tx).expect("presence thread");
        let forward = core.clone();
        let forwarder = tokio::spawn(async move {
            while let Some(signal) = rx.recv().await {
                forward.presence(signal, true);
            }
        });

        // The service goes away; the engine backs off. A delay drawn under FAR (about 1 in 60
        // with an hour's cap) is waited out: the next attempt fails too and draws again.
        let addr = service.kill();
        let state = core
            .wait_for(FAR + WAIT, |s| match &s.connection {
                ConnectionStatus::Reconnecting {
                    next_attempt_at, ..
                } => *next_attempt_at > chrono::Utc::now() + FAR,
                _ => false,
            })
            .await
            .expect("backing off for at least a minute");
        let ConnectionStatus::Reconnecting {
            next_attempt_at, ..
        } = state.connection.clone()
        else {
            unreachable!("matched above")
        };

        // The service is reachable again, and the network says it is connected.
        let _service = common::ServiceProcess::spawn(&db, addr);
        let system = zbus::Connection::system()
            .await
            .expect("the stand-in system bus");
        let network = |state: u32| {
            let system = system.clone();
            async move {
                system
                    .emit_signal(
                        None::<&str>,
                        "/org/freedesktop/NetworkManager",
                        "org.freedesktop.NetworkManager",
                        "StateChanged",
                        &(state,),
                    )
                    .await
                    .expect("emit StateChanged");
            }
        };
        // The watcher subscribes on its own thread: repeat disconnected -> connected until it
        // is heard, bounded by the wait (each pair heard is one immediate reconnect).
        let deadline = tokio::time::Instant::now() + WAIT;
        let state = loop {
            network(20).await; // NM_STATE_DISCONNECTED
            network(70).await; // NM_STATE_CONNECTED_GLOBAL
            let back = core
                .wait_for(Duration::from_millis(200), |s| {
                    s.connection == ConnectionStatus::Connected && connections(s) > before
                })
                .await;
            if let Ok(state) = back {
                break state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the network coming back did not reconnect the engine: {:?}",
                core.state().connection
            );
        };
        assert!(
            chrono::Utc::now() < next_attempt_at,
            "reconnected before the backoff's attempt at {next_attempt_at}"
        );
        let availability = state.availability.as_ref().expect("availability");
        assert_eq!(availability.effective, AvailabilityStatus::Available);
        assert_eq!(availability.source, AvailabilitySource::Schedule);
        assert_eq!(state.outbox_len, 0, "no availability change was queued");

        core.stop().await;
        drop(system);
        forwarder.abort();
    });
}
