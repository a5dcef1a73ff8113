-- The central log database: every server's rsyslog forwards to the log
-- server, whose rsyslog inserts each message here (buildout.d/rsyslog-server.cfg).
-- Applied by the build in one transaction, as the database's owner; it must
-- stay idempotent (IF NOT EXISTS, OR REPLACE). bin/logs prints the views.

CREATE TABLE IF NOT EXISTS messages (
    id bigserial PRIMARY KEY,
    received timestamptz NOT NULL,        -- when the log server's rsyslog got it
    reported timestamptz NOT NULL,        -- when the sending program logged it
    host text NOT NULL,                   -- the sending server ([hosts] server)
    program text NOT NULL,                -- syslog tag: nginx, haproxy, zope-event, ...
    facility smallint NOT NULL,
    severity smallint NOT NULL,           -- 0 emergency .. 3 error .. 6 info .. 7 debug
    message text NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_received ON messages (received);
-- Commits wait for the synchronous replica, as the site's do: a line
-- confirmed to rsyslog survives a failover (docs/failover.rst). rsyslog
-- inserts in batches of up to [rsyslog-config] database-batch lines, each one
-- transaction. (An older build turned this off; RESET undoes that.)
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I RESET synchronous_commit', current_database());
END $$;
CREATE INDEX IF NOT EXISTS messages_program_received ON messages (program, received);

-- HAProxy's httplog lines, parsed: timings in milliseconds, the pool
-- (backend), the request class nginx set, the URL.
CREATE OR REPLACE VIEW haproxy_requests AS
SELECT m.received, m.host, r[1] AS pool, r[2] AS instance,
       r[3]::int AS queue_ms, r[4]::int AS response_ms, r[5]::int AS total_ms,
       r[6]::int AS status, r[7] AS class, r[8] AS method, r[9] AS url
FROM messages m,
     regexp_match(m.message,
         '\] \S+ ([^/ ]+)/(\S+) -?\d+/(-?\d+)/-?\d+/(-?\d+)/(-?\d+) (\d{3}) .*?\{([^}|]*)[^}]*\} "(\S+) (\S+)') AS r
WHERE m.program = 'haproxy' AND r IS NOT NULL;

-- Varnish's lines (handling=hit|miss|pass|pipe|synth status=NNN url=...):
-- one per request from varnishncsa, and from varnish-hits either one per hit
-- or one per URL and status per period with count=N (surge.buildout.ops.varnish_log).
-- requests is how many requests a line stands for.
CREATE OR REPLACE VIEW varnish_requests AS
SELECT m.received, m.host, r[1] AS handling, r[2]::int AS status, r[4] AS url,
       coalesce(r[3]::int, 1) AS requests  -- last: CREATE OR REPLACE VIEW only adds columns at the end
FROM messages m,
     regexp_match(m.message, 'handling=(\w+) status=(\d{3}) (?:count=(\d+) )?.*url=(\S+)') AS r
WHERE m.program IN ('varnishncsa', 'varnish-hits') AND r IS NOT NULL;

-- The time window of the views: bin/logs --since/--until set surge.since and
-- surge.until for its session (ISO times); unset, a view covers the
-- DEFAULT_SPAN before the window's end (now). received is when the log
-- server's rsyslog got the line, seconds after it was logged unless the
-- sender could not reach the log server (then reported says when).
CREATE OR REPLACE FUNCTION window_end() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('surge.until', true), '')::timestamptz, now())
$$;
CREATE OR REPLACE FUNCTION window_start(default_span interval) RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('surge.since', true), '')::timestamptz, window_end() - default_span)
$$;

-- nginx's access lines (log_format surge in nginx.conf): what the visitor
-- got. panic is 'shed' when the answer sent the visitor to the panic page
-- (HAProxy's redirect), 'page' for the panic page itself (that visitor's
-- next request), '-' otherwise. Cache hits answered 2xx/3xx are not in
-- nginx's log (varnish-hits counts them).
CREATE OR REPLACE VIEW nginx_requests AS
SELECT m.received, m.host, r[1] AS client, r[2] AS method, r[3] AS url, r[4]::int AS status,
       r[5] AS class, r[6]::numeric AS seconds, coalesce(r[7], '-') AS panic
FROM messages m,
     regexp_match(m.message,
         '^(\S+) .*?\[[^]]*\] "(?:(\S+) (\S+)[^"]*|[^"]*)" (\d{3}) \d+ .* class=(\S*) rt=([\d.]+) urt=\S+(?: panic=(\S+))?$') AS r
WHERE m.program = 'nginx' AND r IS NOT NULL;

DROP VIEW IF EXISTS errors_24h, slowest_urls_1h;

CREATE OR REPLACE VIEW errors AS
SELECT received, host, program, severity, left(message, 400) AS message
FROM messages
WHERE received >= window_start('24 hours') AND received < window_end()
  AND (severity <= 3 OR message ~ '\m(ERROR|CRITICAL|FATAL|PANIC)\M')
ORDER BY received DESC;
COMMENT ON VIEW errors IS 'every error in the window (default: the last 24 hours), newest first';

CREATE OR REPLACE VIEW responses_per_minute AS
SELECT minute, host, class, sum(requests) AS requests,
       coalesce(sum(requests) FILTER (WHERE status < 400 AND panic <> 'shed'), 0) AS served,
       coalesce(sum(requests) FILTER (WHERE panic = 'shed'), 0) AS shed,
       coalesce(sum(requests) FILTER (WHERE status = 429), 0) AS limited,
       coalesce(sum(requests) FILTER (WHERE status >= 500), 0) AS errors_5xx,
       coalesce(sum(requests) FILTER (WHERE status >= 400 AND status < 500 AND status <> 429), 0) AS other_4xx
FROM (SELECT date_trunc('minute', received) AS minute, host, class, 1 AS requests, status, panic
      FROM nginx_requests
      WHERE panic <> 'page' AND received >= window_start('1 hour') AND received < window_end()
      UNION ALL
      SELECT date_trunc('minute', received), host, 'cache hit', requests, status, '-'
      FROM varnish_requests
      WHERE handling = 'hit' AND status < 400 AND received >= window_start('1 hour') AND received < window_end()
     ) AS answered
GROUP BY 1, 2, 3
ORDER BY 1 DESC, 2, 3;
COMMENT ON VIEW responses_per_minute IS 'what visitors got, per minute, web server and class (default: the last hour): served, shed to the panic page, limited (429), 5xx, other 4xx';

CREATE OR REPLACE VIEW what_broke AS
SELECT host, what, count(*) AS times, min(received) AS first, max(received) AS last,
       (array_agg(example ORDER BY received DESC))[1] AS latest
FROM (SELECT received, host, 'error: ' || program AS what, left(message, 200) AS example
      FROM messages
      WHERE received >= window_start('1 hour') AND received < window_end()
        AND (severity <= 3 OR message ~ '\m(ERROR|CRITICAL|FATAL|PANIC)\M')
      UNION ALL
      SELECT received, host,
             CASE WHEN panic = 'shed' THEN 'shed to the panic page'
                  WHEN status = 429 THEN 'limited (429)'
                  ELSE 'nginx ' || status END || ' (' || class || ')',
             coalesce(method || ' ' || url, '-')
      FROM nginx_requests
      WHERE received >= window_start('1 hour') AND received < window_end()
        AND (panic = 'shed' OR (status >= 500 AND panic = '-') OR status = 429)
      UNION ALL
      SELECT received, host, 'haproxy ' || status || ' (pool ' || pool || ')', method || ' ' || url
      FROM haproxy_requests
      WHERE received >= window_start('1 hour') AND received < window_end() AND status >= 500
      UNION ALL
      SELECT received, host, 'slow, over 5 s (pool ' || pool || ')', total_ms || ' ms ' || method || ' ' || url
      FROM haproxy_requests
      WHERE received >= window_start('1 hour') AND received < window_end() AND total_ms > 5000
     ) AS broke
GROUP BY host, what
ORDER BY times DESC, host, what;
COMMENT ON VIEW what_broke IS 'what went wrong in the window (default: the last hour), per server: errors, 5xx, shed and limited requests, requests over 5 s; the latest example of each';

CREATE OR REPLACE VIEW database_events AS
SELECT received, host, left(message, 300) AS message
FROM messages
WHERE program = 'patroni' AND received >= window_start('24 hours') AND received < window_end()
  AND message !~ 'no action\. I am'
  AND message ~ '(promoted|demot|Lock owner: None|switchover|failover|rewind|bootstrap|[Ss]ynchronous standby|not healthy|not reachable|starting as a secondary|shut ?down)'
ORDER BY received DESC;
COMMENT ON VIEW database_events IS 'Patroni''s changes in the window (default: the last 24 hours), newest first: promotions, demotions, a lost leader, switchovers, rewinds, synchronous standbys';

CREATE OR REPLACE VIEW haproxy_5xx_per_pool_hour AS
SELECT date_trunc('hour', received) AS hour, pool,
       count(*) FILTER (WHERE status >= 500) AS responses_5xx, count(*) AS requests
FROM haproxy_requests
WHERE received >= window_start('7 days') AND received < window_end()
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW haproxy_5xx_per_pool_hour IS '5xx responses and all requests per HAProxy pool per hour (default: the last 7 days)';

CREATE OR REPLACE VIEW haproxy_requests_per_class_hour AS
SELECT date_trunc('hour', received) AS hour, class,
       count(*) FILTER (WHERE status >= 500) AS responses_5xx, count(*) AS requests
FROM haproxy_requests
WHERE received >= window_start('7 days') AND received < window_end()
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW haproxy_requests_per_class_hour IS '5xx responses and all requests per request class (anonymous, member, author) per hour (default: the last 7 days)';

CREATE OR REPLACE VIEW slowest_urls AS
SELECT url, count(*) AS requests, max(total_ms) AS max_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms)) AS p95_ms,
       round(avg(queue_ms)) AS avg_queue_ms
FROM haproxy_requests
WHERE received >= window_start('1 hour') AND received < window_end()
GROUP BY url
ORDER BY max_ms DESC
LIMIT 20;
COMMENT ON VIEW slowest_urls IS 'the 20 slowest URLs in the window (default: the last hour), from HAProxy''s total times';

CREATE OR REPLACE VIEW varnish_hit_ratio_hour AS
SELECT date_trunc('hour', received) AS hour, host,
       coalesce(sum(requests) FILTER (WHERE handling = 'hit'), 0) AS hits,
       coalesce(sum(requests) FILTER (WHERE handling = 'miss'), 0) AS misses,
       coalesce(sum(requests) FILTER (WHERE handling = 'pass'), 0) AS passes,
       round(sum(requests) FILTER (WHERE handling = 'hit')::numeric
             / nullif(sum(requests) FILTER (WHERE handling IN ('hit', 'miss')), 0), 3) AS hit_ratio
FROM varnish_requests
WHERE received >= window_start('7 days') AND received < window_end()
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW varnish_hit_ratio_hour IS 'Varnish hits, misses, passes and hit ratio (hits / (hits + misses)) per web server per hour (default: the last 7 days)';

CREATE OR REPLACE VIEW messages_per_server_hour AS
SELECT date_trunc('hour', received) AS hour, host, count(*) AS messages,
       count(*) FILTER (WHERE severity <= 3) AS errors
FROM messages
WHERE received >= window_start('7 days') AND received < window_end()
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW messages_per_server_hour IS 'messages and errors per server per hour (default: the last 7 days)';

-- Who may do what. The owner (logs) never logs in (buildout.d/postgres.cfg);
-- logs_writer, the log server's rsyslog, inserts messages and nothing else;
-- logs_reader, bin/logs and the logs report, reads the views and nothing
-- else (a view reads messages with its owner's rights, so the reader needs
-- none on the table). Neither owns anything; nobody else may connect.
-- Every right is taken away first, so a right granted by hand does not stay.
DO $$
DECLARE
    view record;
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC, logs_writer, logs_reader', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO logs_writer, logs_reader', current_database());
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, logs_writer, logs_reader;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, logs_writer, logs_reader;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC, logs_writer, logs_reader;
    GRANT INSERT ON messages TO logs_writer;
    GRANT USAGE ON SEQUENCE messages_id_seq TO logs_writer;
    FOR view IN SELECT viewname FROM pg_views WHERE schemaname = 'public' LOOP
        EXECUTE format('GRANT SELECT ON %I TO logs_reader', view.viewname);
    END LOOP;
END $$;
