//! The service's PostgreSQL schema, version by version: the queue's tables, then the
//! accounts' and the webhook outbox's (the same tables as in SQLite, with 64-bit integers and
//! a `seq` column where SQLite's `rowid` gave the order rows were added in).
//!
//! A released migration is never edited: a change is a new one at the end.

use super::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "jobs, revisions and events",
        sql: "CREATE TABLE jobs (
                seq BIGSERIAL UNIQUE,
                id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                progress DOUBLE PRECISION NOT NULL DEFAULT 0,
                stage TEXT NOT NULL DEFAULT '',
                error TEXT,
                kind TEXT NOT NULL,
                options TEXT NOT NULL,
                created_s BIGINT NOT NULL,
                finished_s BIGINT,
                attempts INTEGER NOT NULL DEFAULT 0,
                owner TEXT,
                revision INTEGER NOT NULL DEFAULT 1,
                approved INTEGER,
                lease_until_s BIGINT
            );
            CREATE INDEX jobs_queued ON jobs (created_s, seq) WHERE state = 'queued';
            CREATE INDEX jobs_running ON jobs (lease_until_s) WHERE state = 'running';
            CREATE TABLE revisions (
                job TEXT NOT NULL,
                n INTEGER NOT NULL,
                note TEXT NOT NULL,
                author TEXT,
                created_s BIGINT NOT NULL,
                state TEXT,
                error TEXT,
                session TEXT,
                PRIMARY KEY (job, n)
            );
            CREATE TABLE events (
                seq BIGSERIAL PRIMARY KEY,
                job TEXT NOT NULL,
                at_s BIGINT NOT NULL,
                who TEXT,
                what TEXT NOT NULL,
                revision INTEGER,
                comment TEXT NOT NULL
            );
            CREATE INDEX events_job ON events (job, at_s);",
    },
    Migration {
        version: 2,
        name: "accounts and the webhook outbox",
        sql: "CREATE TABLE users (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                password TEXT NOT NULL,
                created_s BIGINT NOT NULL
            );
            CREATE TABLE tokens (
                digest TEXT PRIMARY KEY,
                \"user\" TEXT NOT NULL REFERENCES users (name),
                created_s BIGINT NOT NULL
            );
            CREATE TABLE sessions (
                digest TEXT PRIMARY KEY,
                \"user\" TEXT NOT NULL REFERENCES users (name),
                expires_s BIGINT NOT NULL
            );
            CREATE TABLE webhooks (
                \"user\" TEXT PRIMARY KEY REFERENCES users (name),
                url TEXT NOT NULL,
                secret TEXT NOT NULL,
                created_s BIGINT NOT NULL
            );
            CREATE TABLE logins (
                seq BIGSERIAL PRIMARY KEY,
                at_s BIGINT NOT NULL,
                name TEXT NOT NULL,
                addr TEXT NOT NULL,
                outcome TEXT NOT NULL
            );
            CREATE INDEX logins_at ON logins (at_s);
            CREATE TABLE webhook_cursor (
                one INTEGER PRIMARY KEY CHECK (one = 1),
                last_event BIGINT NOT NULL
            );
            CREATE TABLE deliveries (
                seq BIGSERIAL UNIQUE,
                id TEXT PRIMARY KEY,
                \"user\" TEXT NOT NULL,
                url TEXT NOT NULL,
                secret TEXT NOT NULL,
                event TEXT NOT NULL,
                body TEXT NOT NULL,
                created_s BIGINT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                next_at DOUBLE PRECISION NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                last_status BIGINT,
                last_error TEXT
            );
            CREATE INDEX deliveries_due ON deliveries (state, next_at);
            CREATE INDEX deliveries_user ON deliveries (\"user\", created_s);",
    },
    Migration {
        version: 3,
        name: "wake idle workers when a job is queued",
        // Every way a job becomes queued (ordered, a revision, handed back after a crash or
        // an expired lease) goes through this one trigger; the notification is sent when the
        // transaction commits, so a worker it wakes finds the job.
        sql: "CREATE FUNCTION lathe_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN
                PERFORM pg_notify('lathe_jobs', '');
                RETURN NULL;
              END $$;
              CREATE TRIGGER jobs_queued_notify AFTER INSERT OR UPDATE OF state ON jobs
                FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION lathe_job_queued();",
    },
    Migration {
        version: 4,
        name: "the attempt that rendered each revision",
        sql: "ALTER TABLE revisions ADD COLUMN attempt INTEGER;",
    },
];
