-- P7 (issue 5): adds :n ended conversations to a chat-service database, straight in SQL
-- (seconds, where the service's own paths would take minutes). Each has its own visitor, the
-- visitor's question and the agent's answer (two messages), and ends 5 minutes before the next
-- newer one, so the list's order is the order of insertion. Agents are the existing ones, in
-- turn. Used by bench/app-latency.sh:
--   sqlite3 -bail DB -cmd '.parameter set :n 100000' < bench/seed-conversations.sql
-- The database must already be migrated (start the service on it once).
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
BEGIN;
CREATE TEMP TABLE seed_base AS
SELECT (SELECT coalesce(max(id), 0) FROM visitors) AS v,
       (SELECT coalesce(max(id), 0) FROM conversations) AS c,
       (SELECT count(*) FROM agents) AS agents,
       CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 3600000 AS now_ms;
CREATE TEMP TABLE seed_agents AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id FROM agents;
CREATE TEMP TABLE seed_n AS
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n) SELECT i FROM n;

INSERT INTO visitors (id, name, email, created_at)
SELECT b.v + i, printf('Seeded Visitor %06d', i), printf('seeded%06d@example.org', i), b.now_ms - i * 300000 - 240000
FROM seed_n, seed_base b;

INSERT INTO conversations (id, visitor_id, agent_id, status, created_at, last_activity_at, last_message, ended_at, end_reason)
SELECT b.c + i, b.v + i, a.id, 'ended',
       b.now_ms - i * 300000 - 240000, b.now_ms - i * 300000,
       printf('Glad to help with order %06d.', i), b.now_ms - i * 300000,
       CASE i % 3 WHEN 0 THEN 'agent' WHEN 1 THEN 'visitor' ELSE 'inactivity' END
FROM seed_n, seed_base b JOIN seed_agents a ON a.k = i % b.agents;

INSERT INTO messages (conversation_id, author_role, agent_id, content_json, created_at)
SELECT b.c + i, 'visitor', NULL, json_object('kind', 'text', 'text', printf('Where is my order %06d?', i)),
       b.now_ms - i * 300000 - 240000
FROM seed_n, seed_base b;
INSERT INTO messages (conversation_id, author_role, agent_id, content_json, created_at)
SELECT c.id, 'agent', c.agent_id, json_object('kind', 'text', 'text', c.last_message), c.last_activity_at
FROM conversations c, seed_base b WHERE c.id > b.c;
COMMIT;
