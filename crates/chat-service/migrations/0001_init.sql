-- Agent Inbox chat service schema, version 1. Instants are INTEGER milliseconds since the Unix
-- epoch (UTC) so that they sort and compare exactly.

CREATE TABLE service_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE agents (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    settings_json   TEXT NOT NULL,
    override_status TEXT CHECK (override_status IN ('available', 'unavailable')),
    override_until  INTEGER,
    last_offer_at   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);

CREATE TABLE visitors (
    id         INTEGER PRIMARY KEY,
    name       TEXT,
    job_title  TEXT,
    email      TEXT,
    phone      TEXT,
    crm_status TEXT,
    created_at INTEGER NOT NULL
);

-- Bearer tokens, stored as SHA-256 hashes. Exactly one of agent_id / visitor_id is set.
CREATE TABLE auth_tokens (
    token_hash TEXT PRIMARY KEY,
    agent_id   INTEGER REFERENCES agents (id),
    visitor_id INTEGER REFERENCES visitors (id),
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL,
    CHECK ((agent_id IS NULL) <> (visitor_id IS NULL))
);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    visitor_id       INTEGER NOT NULL REFERENCES visitors (id),
    agent_id         INTEGER REFERENCES agents (id),
    status           TEXT NOT NULL CHECK (status IN ('waiting', 'live', 'ended', 'left_message')),
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    last_message     TEXT,
    ended_at         INTEGER,
    end_reason       TEXT CHECK (end_reason IN ('agent', 'visitor', 'inactivity', 'abandoned')),
    CHECK (status <> 'live' OR agent_id IS NOT NULL)
);
CREATE INDEX conversations_live_by_agent ON conversations (agent_id) WHERE status = 'live';
CREATE INDEX conversations_by_activity ON conversations (last_activity_at DESC, id DESC);
CREATE INDEX conversations_by_visitor ON conversations (visitor_id);

-- R2: the live-chat limit holds inside the database, whatever the application checked before.
CREATE TRIGGER conversations_live_limit_update
BEFORE UPDATE OF status, agent_id ON conversations
WHEN NEW.status = 'live'
 AND (OLD.status <> 'live' OR OLD.agent_id IS NOT NEW.agent_id)
 AND (SELECT count(*) FROM conversations WHERE agent_id = NEW.agent_id AND status = 'live')
     >= (SELECT CAST(value AS INTEGER) FROM service_settings WHERE key = 'max_live_chats')
BEGIN
    SELECT RAISE(ABORT, 'live chat limit reached');
END;

CREATE TABLE offers (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    agent_id        INTEGER NOT NULL REFERENCES agents (id),
    round           INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    outcome         TEXT CHECK (outcome IN ('accepted', 'declined', 'expired', 'withdrawn')),
    answered_at     INTEGER
);
-- One open offer per conversation, and within a round each agent is offered a chat once.
CREATE UNIQUE INDEX offers_one_open_per_conversation ON offers (conversation_id) WHERE outcome IS NULL;
CREATE UNIQUE INDEX offers_once_per_agent_per_round ON offers (conversation_id, agent_id, round);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    author_role     TEXT NOT NULL CHECK (author_role IN ('visitor', 'agent', 'system')),
    agent_id        INTEGER REFERENCES agents (id),
    content_json    TEXT NOT NULL,
    client_id       TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, author_role, client_id)
    WHERE client_id IS NOT NULL;

CREATE TABLE reads (
    agent_id             INTEGER NOT NULL REFERENCES agents (id),
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id),
    last_read_message_id INTEGER NOT NULL,
    PRIMARY KEY (agent_id, conversation_id)
);

CREATE TABLE activities (
    id              INTEGER PRIMARY KEY,
    visitor_id      INTEGER NOT NULL REFERENCES visitors (id),
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL,
    occurred_at     INTEGER NOT NULL,
    conversation_id INTEGER REFERENCES conversations (id)
);
CREATE INDEX activities_by_visitor ON activities (visitor_id, occurred_at DESC);

CREATE TABLE calendar_shares (
    conversation_id   INTEGER NOT NULL REFERENCES conversations (id),
    calendar_agent_id INTEGER NOT NULL REFERENCES agents (id),
    PRIMARY KEY (conversation_id, calendar_agent_id)
);

-- R7: a slot can never be booked twice.
CREATE TABLE bookings (
    id                INTEGER PRIMARY KEY,
    calendar_agent_id INTEGER NOT NULL REFERENCES agents (id),
    visitor_id        INTEGER NOT NULL REFERENCES visitors (id),
    conversation_id   INTEGER REFERENCES conversations (id),
    start_at          INTEGER NOT NULL,
    end_at            INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    UNIQUE (calendar_agent_id, start_at)
);
