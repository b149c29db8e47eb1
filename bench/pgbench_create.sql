-- The SQL of one CreateBooking with an idempotency key (no prepayment), as the service runs it (see
-- service_layer/sagas/create.py): claim the key and record the saga in one transaction; then, after
-- the peers, in one transaction the booking (the exclusion constraint checks the slot), its first
-- history row, the key's stored answer, the saga's end and the booking.created event in the outbox
-- (whose trigger notifies the relay). Ids are derived from random numbers so that no statement needs a round trip
-- of its own. bench/run.py runs it with pgbench -M prepared: the ceiling for CreateBooking.
\set n random(1, 9000000000000000)
\set partition :n % 16
BEGIN;
INSERT INTO idempotency_keys (scope, key, fingerprint, response, created_at, expires_at)
  VALUES ('CreateBooking', 'pgb-' || :client_id || '-' || :n, '\x0123456789abcdef0123456789abcdef'::bytea, NULL,
          now(), now() + interval '1 day')
  ON CONFLICT DO NOTHING RETURNING scope;
INSERT INTO booking_sagas (saga_id, booking_id, kind, status, step, data, attempts, error, lease_until, created_at, updated_at)
  VALUES (md5('s' || :client_id || '-' || :n)::uuid, md5('b' || :client_id || '-' || :n)::uuid, 'create', 'running',
          'started', jsonb_build_object('unit_id', 'pgb-' || :n, 'quote', repeat('q', 120)), 0, '',
          now() + interval '60 seconds', now(), now());
COMMIT;
BEGIN;
INSERT INTO bookings (booking_id, booking_reference, guest_id, guest_name, guest_email, guest_phone, venue_id,
    venue_type, venue_name, venue_time_zone, unit_id, start_time, end_time, local_start_date, party_size,
    special_requests, status, price_amount_minor, price_currency, payment_intent_id, inventory_reservation_id,
    version, cancellation_reason, idempotency_key, create_time, update_time, expire_time, pricing_quote_id,
    requires_prepayment, cancellation_fee_percent)
  VALUES (md5('b' || :client_id || '-' || :n)::uuid, 'BK-' || upper(substr(md5('r' || :client_id || '-' || :n), 1, 10)),
    'guest-' || :n, 'Ada Lovelace', 'ada@example.com', '', 'pgbench-venue', 'RESTAURANT', 'Bench Bistro',
    'Europe/Paris', 'pgb-' || :client_id || '-' || :n, now() + interval '30 days',
    now() + interval '30 days 2 hours', current_date + 30, 2, '', 'PENDING', 9000, 'EUR', '', repeat('h', 36), 1, '',
    'pgb-' || :client_id || '-' || :n, now(), now(), now() + interval '15 minutes', repeat('q', 36), false, 0);
INSERT INTO booking_status_history (booking_id, version, from_status, to_status, reason, actor, source, changed_fields, change_time)
  VALUES (md5('b' || :client_id || '-' || :n)::uuid, 1, NULL, 'PENDING', '', 'bench', 'API', '{}', now());
UPDATE idempotency_keys SET response = jsonb_build_object('booking', repeat('j', 900))
  WHERE scope = 'CreateBooking' AND key = 'pgb-' || :client_id || '-' || :n;
UPDATE booking_sagas SET status = 'done', step = 'stored', error = '', updated_at = now()
  WHERE saga_id = md5('s' || :client_id || '-' || :n)::uuid AND attempts = 0;
INSERT INTO booking_outbox (event_id, booking_id, booking_version, event_type, partition, payload, occurred_at)
  VALUES (md5('e' || :client_id || '-' || :n)::uuid, md5('b' || :client_id || '-' || :n)::uuid, 1, 'booking.created',
          :partition, convert_to(repeat('p', 420), 'UTF8'), now())
  RETURNING id;
COMMIT;
