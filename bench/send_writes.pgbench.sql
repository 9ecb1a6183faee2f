-- The writes of one send (bench/send_writes.py); @COUNT@ and @OFFSET@ are filled in.
\set cid random(1, @COUNT@)
SELECT id AS conversation FROM bench_limit_threads WHERE n = :cid \gset
SELECT buyer_id AS buyer, seller_id AS seller FROM bench_limit_threads WHERE n = :cid \gset
BEGIN;
UPDATE conversations SET last_seq = last_seq + 1, last_message_at = now() WHERE id = :conversation RETURNING last_seq \gset
INSERT INTO messages (conversation_id, seq, kind, sender_id, sender_role, body, client_message_id, created_at, edit_count) VALUES (:conversation, :last_seq, 'text', :buyer, 'buyer', 'Hi! Is the 1921 Morgan dollar still available, and can you ship it tomorrow?', md5(random()::text), now(), 0) RETURNING id AS message \gset
UPDATE participants SET last_activity_at = now(), last_read_seq = CASE WHEN user_id = :buyer THEN :last_seq ELSE last_read_seq END, last_read_message_id = CASE WHEN user_id = :buyer THEN :message ELSE last_read_message_id END WHERE conversation_id = :conversation;
INSERT INTO record_entries (conversation_id, position, kind, payload, salt, digest, prev_hash, hash, created_at) VALUES (:conversation, :last_seq + @OFFSET@, 'message.posted', '{"body":"Hi! Is the 1921 Morgan dollar still available?","kind":"text"}', md5(random()::text), md5(random()::text), md5(random()::text), md5(random()::text), now());
UPDATE notifications SET count = count + 1, title = 'New messages', body = 'Hi!', created_at = now() WHERE user_id = :seller AND seen_at IS NULL AND type = 'message' AND conversation_id = :conversation;
UPDATE users SET last_event_id = last_event_id + 1 WHERE id IN (:buyer, :seller) RETURNING id, last_event_id;
INSERT INTO events (user_id, id, type, data, created_at) VALUES (:buyer, (SELECT last_event_id FROM users WHERE id = :buyer), 'message.created', '{"id":1}', now()), (:seller, (SELECT last_event_id FROM users WHERE id = :seller), 'message.created', '{"id":1}', now());
INSERT INTO outbox (kind, payload, idempotency_key, status, attempts, run_after, created_at) VALUES ('notify_unread', '{"message_id":1}', md5(random()::text), 'pending', 0, now() + interval '5 minutes', now()) ON CONFLICT (idempotency_key) DO NOTHING;
COMMIT;
