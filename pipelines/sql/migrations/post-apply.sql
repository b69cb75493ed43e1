-- Run after every `migrate`: privileges for the two roles, re-granted so that objects added by
-- any migration are covered. Nothing else is granted: the reader sees the api views only.

DO $$
BEGIN
    EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pantau_reader, pantau_writer',
                   current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO pantau_writer', current_database());
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT USAGE ON SCHEMA api TO pantau_reader, pantau_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA api TO pantau_reader, pantau_writer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO pantau_reader, pantau_writer;

GRANT USAGE ON SCHEMA pantau TO pantau_writer;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA pantau TO pantau_writer;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA pantau TO pantau_writer;

GRANT USAGE, CREATE ON SCHEMA pantau_staging TO pantau_writer;
