//! R4-R6 reads against a real service: visitor fields that were not given are absent (never
//! `""` or `null`), activity history is the last 90 days newest first (filtered by the
//! service), transcripts are plain text in order, and conversation and message lists page
//! without duplicates or gaps, newest first, with search.

mod common;

use std::collections::HashSet;

use chat_service::store::{AuthorRef, PastConversation, SqliteStore, Store};
use chrono::{DateTime, Duration, Utc};
use common::*;
use protocol::rest::ConversationScope;
use protocol::*;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sim::http::ApiClient;

/// A second handle on the running service's database (WAL lets both write).
async fn store(svc: &TestService) -> SqliteStore {
    SqliteStore::open(&svc.config.db, false, svc.config.max_live_chats)
        .await
        .expect("open store")
}

async fn raw_json(api: &ApiClient, path: &str) -> Value {
    let response = api
        .request(Method::GET, path)
        .expect("request")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.expect("JSON body")
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Agent 0 accepts a chat from a visitor opened with `name` and `email`; returns the
/// conversation.
async fn accepted_chat(
    svc: &TestService,
    name: Option<&str>,
    email: Option<&str>,
) -> (
    ApiClient,
    sim::AgentClient,
    sim::VisitorClient,
    ConversationId,
) {
    let (api, mut agent) = svc.agent(0).await;
    let mut visitor = sim::VisitorClient::start(&svc.url, name, email)
        .await
        .expect("visitor");
    visitor.start_chat("hello").await.expect("start");
    let offer = next_offer(&mut agent).await;
    agent.accept(offer.id).await.expect("accept");
    visitor.expect_agent_joined(WAIT).await.expect("joined");
    (api, agent, visitor, offer.conversation_id)
}

#[tokio::test]
async fn visitor_fields_not_given_are_absent_not_empty() {
    let mut svc = TestService::start(1).await;
    let (api, _agent, _visitor, conv) = accepted_chat(&svc, Some("Only A. Name"), None).await;

    let info = raw_json(&api, &format!("/api/v1/conversations/{conv}/visitor")).await;
    assert_eq!(keys(&info), ["id", "name"], "{info}");
    assert_eq!(info["name"], "Only A. Name");
    // The same visitor inside the conversation summary and the list.
    let summary = raw_json(&api, &format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(keys(&summary["visitor"]), ["id", "name"], "{summary}");
    let list = raw_json(&api, "/api/v1/conversations?scope=active").await;
    let listed = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["id"] == conv.0)
        .expect("listed");
    assert_eq!(keys(&listed["visitor"]), ["id", "name"], "{listed}");
    // The typed view agrees.
    let typed = api.visitor(conv).await.expect("visitor");
    assert_eq!(
        (typed.job_title, typed.email, typed.phone, typed.crm_status),
        (None, None, None, None)
    );

    // Empty and blank values stored by an import count as not given.
    let db = svc.db().await;
    let visitor_id = typed.id.0;
    sqlx::query(
        "UPDATE visitors SET job_title = '', phone = '   ', crm_status = NULL WHERE id = ?1",
    )
    .bind(visitor_id)
    .execute(&db)
    .await
    .expect("update");
    let info = raw_json(&api, &format!("/api/v1/conversations/{conv}/visitor")).await;
    assert_eq!(keys(&info), ["id", "name"], "blank strings leak: {info}");

    // Given fields are all there.
    sqlx::query(
        "UPDATE visitors SET job_title = 'CTO', email = 'a@b.example', phone = '+47 123', crm_status = 'Lead' WHERE id = ?1",
    )
    .bind(visitor_id)
    .execute(&db)
    .await
    .expect("update");
    let info = raw_json(&api, &format!("/api/v1/conversations/{conv}/visitor")).await;
    assert_eq!(
        keys(&info),
        ["crm_status", "email", "id", "job_title", "name", "phone"],
        "{info}"
    );
    assert_eq!(info["job_title"], "CTO");
    assert_eq!(info["crm_status"], "Lead");
    svc.stop().await;
}

#[tokio::test]
async fn a_visitor_with_nothing_given_has_only_an_id() {
    let mut svc = TestService::start(1).await;
    // Blank name and email are the same as none.
    let (api, _agent, _visitor, conv) = accepted_chat(&svc, Some("   "), Some("")).await;
    let info = raw_json(&api, &format!("/api/v1/conversations/{conv}/visitor")).await;
    assert_eq!(keys(&info), ["id"], "{info}");
    let db = svc.db().await;
    let (name, email): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT name, email FROM visitors WHERE id = ?1")
            .bind(info["id"].as_i64().expect("id"))
            .fetch_one(&db)
            .await
            .expect("row");
    assert_eq!((name, email), (None, None), "blank values were stored");
    // The transcript names the visitor generically.
    let transcript = api.transcript(conv).await.expect("transcript");
    assert!(transcript.contains("Visitor: hello"), "{transcript}");
    svc.stop().await;
}

#[tokio::test]
async fn activities_are_the_last_90_days_newest_first() {
    let mut svc = TestService::start(1).await;
    let (api, _agent, _visitor, conv) = accepted_chat(&svc, Some("Historian"), None).await;
    let me = api.visitor(conv).await.expect("visitor").id;
    let store = store(&svc).await;
    let now = Utc::now();
    let other = store
        .create_visitor(
            VisitorInfo {
                name: Some("Someone Else".into()),
                ..VisitorInfo::default()
            },
            now,
        )
        .await
        .expect("other visitor");
    let seeded = [
        (Duration::hours(1), ActivityKind::PageVisit, "Pricing page"),
        (
            Duration::days(10),
            ActivityKind::FormFill,
            "Demo request form",
        ),
        (
            Duration::days(30),
            ActivityKind::EmailOpen,
            "Newsletter opened",
        ),
        (
            Duration::days(89),
            ActivityKind::MeetingBooked,
            "89 days ago",
        ),
        (Duration::days(91), ActivityKind::PageVisit, "91 days ago"),
        (Duration::days(400), ActivityKind::Chat, "Over a year ago"),
    ];
    for (age, kind, title) in seeded {
        store
            .add_activity(me, kind, title, now - age, None)
            .await
            .expect("add activity");
    }
    store
        .add_activity(other, ActivityKind::PageVisit, "not mine", now, None)
        .await
        .expect("add activity");
    store.close().await;

    let before = Utc::now();
    let list = api.activities(conv).await.expect("activities");
    let after = Utc::now();
    let titles: Vec<&str> = list.items.iter().map(|a| a.title.as_str()).collect();
    // Accepting the chat recorded a chat activity just now.
    assert_eq!(
        titles,
        [
            "Live chat",
            "Pricing page",
            "Demo request form",
            "Newsletter opened",
            "89 days ago"
        ],
        "{list:?}"
    );
    assert_eq!(list.items[0].kind, ActivityKind::Chat);
    assert_eq!(list.items[0].conversation_id, Some(conv));
    assert!(
        list.items
            .windows(2)
            .all(|w| w[0].occurred_at >= w[1].occurred_at),
        "not newest first: {list:?}"
    );
    let cutoff_low = before - Duration::days(90) - Duration::seconds(5);
    let cutoff_high = after - Duration::days(90) + Duration::seconds(5);
    assert!(
        list.since >= cutoff_low && list.since <= cutoff_high,
        "since {} is not now - 90 days",
        list.since
    );
    assert!(list.items.iter().all(|a| a.occurred_at >= list.since));

    // The raw JSON: ISO instants, snake_case kinds, no conversation_id key where there is none.
    let raw = raw_json(&api, &format!("/api/v1/conversations/{conv}/activities")).await;
    let items = raw["items"].as_array().expect("items");
    assert_eq!(items[1]["kind"], "page_visit");
    assert_eq!(keys(&items[1]), ["id", "kind", "occurred_at", "title"]);
    assert!(raw["since"].is_string());
    svc.stop().await;
}

#[tokio::test]
async fn transcripts_are_plain_text_in_order() {
    let mut svc = TestService::start(1).await;
    let (api, mut agent, mut visitor, conv) =
        accepted_chat(&svc, Some("Tina Transcript"), None).await;
    let lines = [
        ("agent", "Hi Tina, how can I help?"),
        ("visitor", "<script>alert('x')</script> is what I typed"),
        ("agent", "Line one\nline two"),
        ("visitor", "Thanks & bye"),
    ];
    for (who, text) in lines {
        if who == "agent" {
            agent.send_text(conv, text).await.expect("agent writes");
        } else {
            visitor.send_text(text).await.expect("visitor writes");
        }
    }
    let response = api
        .request(
            Method::GET,
            &format!("/api/v1/conversations/{conv}/transcript"),
        )
        .expect("request")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let disposition = response
        .headers()
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.contains(&format!("conversation-{conv}.txt")),
        "{disposition}"
    );
    let text = response.text().await.expect("body");
    assert!(text.contains("Tina Transcript"), "{text}");
    assert!(text.contains("Agent 0"), "{text}");
    let mut at = text.find("Tina Transcript: hello").expect("first message");
    for (_, line) in lines {
        let pos = text[at..]
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} missing or out of order in:\n{text}"));
        at += pos + line.len();
    }
    // Plain text: markup is kept literally, not escaped or stripped.
    assert!(text.contains("<script>alert('x')</script>"));
    assert!(text.contains("Thanks & bye"));
    svc.stop().await;
}

#[tokio::test]
async fn long_transcripts_and_message_pages_keep_every_message_in_order() {
    let mut svc = TestService::start(1).await;
    let api = svc.login(0).await;
    let store = store(&svc).await;
    let start = Utc::now() - Duration::days(3);
    let visitor = store
        .create_visitor(
            VisitorInfo {
                name: Some("Chatty".into()),
                ..VisitorInfo::default()
            },
            start,
        )
        .await
        .expect("visitor");
    let n = 1_234;
    let agent = svc.agents[0].id;
    let messages = (0..n)
        .map(|i| {
            let author = if i % 2 == 0 {
                AuthorRef::Visitor
            } else {
                AuthorRef::Agent(agent)
            };
            (
                author,
                format!("message #{i:05}"),
                start + Duration::seconds(i),
            )
        })
        .collect();
    let conv = store
        .import_conversation(PastConversation {
            visitor_id: visitor,
            agent_id: Some(agent),
            status: ConversationStatus::Ended,
            created_at: start,
            ended_at: start + Duration::seconds(n),
            end_reason: Some(EndReason::Visitor),
            messages,
        })
        .await
        .expect("import");
    store.close().await;

    let text = api.transcript(conv).await.expect("transcript");
    let mut at = 0;
    for i in 0..n {
        let needle = format!("message #{i:05}");
        let pos = text[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle} missing or out of order"));
        at += pos + needle.len();
    }

    // Paging backwards through messages with `before`.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = api
            .messages(conv, before, Some(100))
            .await
            .expect("message page");
        assert!(page.items.len() <= 100);
        assert!(
            page.items.windows(2).all(|w| w[0].id < w[1].id),
            "a page is not oldest first"
        );
        let done = page.older_cursor.is_none();
        before = page.older_cursor;
        pages.push(page.items);
        if done {
            break;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
    let all: Vec<Message> = pages.into_iter().rev().flatten().collect();
    assert_eq!(all.len(), n as usize);
    for (i, m) in all.iter().enumerate() {
        assert_eq!(
            m.content,
            MessageContent::Text {
                text: format!("message #{i:05}")
            }
        );
    }
    let ids: HashSet<_> = all.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), all.len(), "duplicate messages across pages");
    svc.stop().await;
}

/// What the list must return: newest activity first, ties broken by id, newest first.
fn expected_order(convs: &[(ConversationId, DateTime<Utc>)]) -> Vec<ConversationId> {
    let mut sorted = convs.to_vec();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    sorted.into_iter().map(|(id, _)| id).collect()
}

async fn page_through(
    api: &ApiClient,
    q: Option<&str>,
    limit: u32,
) -> (Vec<ConversationSummary>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = api
            .conversations(ConversationScope::All, q, cursor.as_deref(), Some(limit))
            .await
            .expect("page");
        pages += 1;
        assert!(page.items.len() <= limit as usize, "page over the limit");
        if page.next_cursor.is_some() {
            assert_eq!(
                page.items.len(),
                limit as usize,
                "a short page before the end"
            );
        }
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 1_000, "paging does not end");
    }
    (items, pages)
}

#[tokio::test]
async fn the_conversation_list_pages_newest_first_without_gaps_and_searches() {
    let mut svc = TestService::start(2).await;
    let api = svc.login(0).await;
    let store = store(&svc).await;
    let base = Utc::now() - Duration::days(20);
    let mut convs = Vec::new();
    let mut searchable = Vec::new();
    let n: usize = 137;
    for i in 0..n {
        let name = if i % 7 == 3 {
            format!("Zed Searchable {i}")
        } else {
            format!("Plain Person {i}")
        };
        let visitor = store
            .create_visitor(
                VisitorInfo {
                    name: Some(name),
                    ..VisitorInfo::default()
                },
                base,
            )
            .await
            .expect("visitor");
        // Several conversations share an instant, to exercise the tie-break.
        let ended = base + Duration::minutes((i / 3) as i64);
        let agent = svc.agents[i % 2].id;
        let text = if i % 11 == 5 {
            "I need a quote for 100% cotton".to_owned()
        } else {
            format!("question {i}")
        };
        let id = store
            .import_conversation(PastConversation {
                visitor_id: visitor,
                agent_id: Some(agent),
                status: ConversationStatus::Ended,
                created_at: ended - Duration::minutes(5),
                ended_at: ended,
                end_reason: Some(EndReason::Agent),
                messages: vec![(AuthorRef::Visitor, text, ended - Duration::minutes(5))],
            })
            .await
            .expect("import");
        convs.push((id, ended));
        if i % 7 == 3 {
            searchable.push((id, ended));
        }
    }

    let want = expected_order(&convs);
    for limit in [1, 7, 10, 50, 200] {
        let (items, pages) = page_through(&api, None, limit).await;
        let got: Vec<ConversationId> = items.iter().map(|c| c.id).collect();
        let unique: HashSet<_> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "limit {limit}: duplicates");
        assert_eq!(got, want, "limit {limit}: missing, extra or out of order");
        assert_eq!(pages, n.div_ceil(limit as usize), "limit {limit}");
        assert!(
            items
                .windows(2)
                .all(|w| w[0].last_activity_at >= w[1].last_activity_at)
        );
        assert!(items.iter().all(|c| c.status == ConversationStatus::Ended));
    }

    // Search by visitor name, paged.
    let (found, _) = page_through(&api, Some("searchable"), 4).await;
    let got: Vec<ConversationId> = found.iter().map(|c| c.id).collect();
    assert_eq!(got, expected_order(&searchable), "search by name");
    // Search by message text; `%` is a literal, not a wildcard.
    let (found, _) = page_through(&api, Some("100% cotton"), 3).await;
    let want_text: Vec<_> = convs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 11 == 5)
        .map(|(_, c)| *c)
        .collect();
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        expected_order(&want_text),
        "search by message text"
    );
    let (found, _) = page_through(&api, Some("0%"), 10).await;
    assert_eq!(found.len(), want_text.len(), "'0%' is literal");
    let (found, _) = page_through(&api, Some("no such words"), 10).await;
    assert!(found.is_empty());
    // Search by agent name.
    let (found, _) = page_through(&api, Some("Agent 1"), 25).await;
    assert_eq!(found.len(), n / 2, "search by agent name");
    assert!(
        found
            .iter()
            .all(|c| c.agent.as_ref().map(|a| a.id) == Some(svc.agents[1].id))
    );
    // Ended conversations are never Active.
    let active = api
        .conversations(ConversationScope::Active, None, None, None)
        .await
        .expect("active");
    assert!(active.items.is_empty(), "{active:?}");

    // A conversation that becomes newest while paging does not shift the pages.
    let first = api
        .conversations(ConversationScope::All, None, None, Some(10))
        .await
        .expect("page 1");
    let newer_visitor = store
        .create_visitor(VisitorInfo::default(), Utc::now())
        .await
        .expect("visitor");
    let newest = store
        .import_conversation(PastConversation {
            visitor_id: newer_visitor,
            agent_id: Some(svc.agents[0].id),
            status: ConversationStatus::Ended,
            created_at: Utc::now() - Duration::minutes(1),
            ended_at: Utc::now(),
            end_reason: Some(EndReason::Visitor),
            messages: vec![],
        })
        .await
        .expect("import");
    store.close().await;
    let second = api
        .conversations(
            ConversationScope::All,
            None,
            first.next_cursor.as_deref(),
            Some(10),
        )
        .await
        .expect("page 2");
    let got: Vec<_> = first
        .items
        .iter()
        .chain(second.items.iter())
        .map(|c| c.id)
        .collect();
    assert_eq!(
        got,
        want[..20].to_vec(),
        "pages shifted by a new conversation"
    );
    let top = api
        .conversations(ConversationScope::All, None, None, Some(1))
        .await
        .expect("top");
    assert_eq!(top.items[0].id, newest);
    svc.stop().await;
}

#[tokio::test]
async fn the_search_limit_counts_characters() {
    let mut svc = TestService::start(1).await;
    let api = svc.login(0).await;
    let q = "é".repeat(150);
    let page = api
        .conversations(ConversationScope::All, Some(&q), None, None)
        .await
        .expect("150 characters are within the 200-character limit");
    assert!(page.items.is_empty());
    let err = api
        .conversations(ConversationScope::All, Some(&"é".repeat(201)), None, None)
        .await
        .expect_err("201 characters are over the limit");
    assert_eq!(err.code(), Some(ErrorCode::InvalidField));
    svc.stop().await;
}
