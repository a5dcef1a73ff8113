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

CREATE OR REPLACE VIEW errors_24h AS
SELECT received, host, program, severity, left(message, 400) AS message
FROM messages
WHERE received > now() - interval '24 hours'
  AND (severity <= 3 OR message ~ '\m(ERROR|CRITICAL|FATAL|PANIC)\M')
ORDER BY received DESC;
COMMENT ON VIEW errors_24h IS 'every error of the last 24 hours, newest first';

CREATE OR REPLACE VIEW haproxy_5xx_per_pool_hour AS
SELECT date_trunc('hour', received) AS hour, pool,
       count(*) FILTER (WHERE status >= 500) AS responses_5xx, count(*) AS requests
FROM haproxy_requests
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW haproxy_5xx_per_pool_hour IS '5xx responses and all requests per HAProxy pool per hour';

CREATE OR REPLACE VIEW haproxy_requests_per_class_hour AS
SELECT date_trunc('hour', received) AS hour, class,
       count(*) FILTER (WHERE status >= 500) AS responses_5xx, count(*) AS requests
FROM haproxy_requests
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW haproxy_requests_per_class_hour IS '5xx responses and all requests per request class (anonymous, member, author) per hour';

CREATE OR REPLACE VIEW slowest_urls_1h AS
SELECT url, count(*) AS requests, max(total_ms) AS max_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms)) AS p95_ms,
       round(avg(queue_ms)) AS avg_queue_ms
FROM haproxy_requests
WHERE received > now() - interval '1 hour'
GROUP BY url
ORDER BY max_ms DESC
LIMIT 20;
COMMENT ON VIEW slowest_urls_1h IS 'the 20 slowest URLs of the last hour, from HAProxy''s total times';

CREATE OR REPLACE VIEW varnish_hit_ratio_hour AS
SELECT date_trunc('hour', received) AS hour, host,
       coalesce(sum(requests) FILTER (WHERE handling = 'hit'), 0) AS hits,
       coalesce(sum(requests) FILTER (WHERE handling = 'miss'), 0) AS misses,
       coalesce(sum(requests) FILTER (WHERE handling = 'pass'), 0) AS passes,
       round(sum(requests) FILTER (WHERE handling = 'hit')::numeric
             / nullif(sum(requests) FILTER (WHERE handling IN ('hit', 'miss')), 0), 3) AS hit_ratio
FROM varnish_requests
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW varnish_hit_ratio_hour IS 'Varnish hits, misses, passes and hit ratio (hits / (hits + misses)) per web server per hour';

CREATE OR REPLACE VIEW messages_per_server_hour AS
SELECT date_trunc('hour', received) AS hour, host, count(*) AS messages,
       count(*) FILTER (WHERE severity <= 3) AS errors
FROM messages
GROUP BY 1, 2
ORDER BY 1 DESC, 2;
COMMENT ON VIEW messages_per_server_hour IS 'messages and errors per server per hour';
