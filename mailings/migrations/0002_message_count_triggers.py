"""Triggers that keep MessageCount exact: every insert, status change and delete of a message
appends deltas (see mailings.models.MessageCount)."""

from django.db import migrations

from core.triggers import install_triggers

POSTGRES = """
CREATE OR REPLACE FUNCTION mailings_message_count_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mailings_messagecountdelta (mailing_id, status, delta)
    SELECT mailing_id, status, count(*) FROM new_rows GROUP BY mailing_id, status;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION mailings_message_count_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mailings_messagecountdelta (mailing_id, status, delta)
    SELECT mailing_id, status, sum(d) FROM (
        SELECT mailing_id, status, -1 AS d FROM old_rows
        UNION ALL
        SELECT mailing_id, status, 1 AS d FROM new_rows
    ) changes
    GROUP BY mailing_id, status
    HAVING sum(d) <> 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION mailings_message_count_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mailings_messagecountdelta (mailing_id, status, delta)
    SELECT mailing_id, status, -count(*) FROM old_rows GROUP BY mailing_id, status;
    RETURN NULL;
END $$;

CREATE TRIGGER mailings_message_count_insert AFTER INSERT ON mailings_message
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailings_message_count_insert();
CREATE TRIGGER mailings_message_count_update AFTER UPDATE ON mailings_message
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailings_message_count_update();
CREATE TRIGGER mailings_message_count_delete AFTER DELETE ON mailings_message
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailings_message_count_delete();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS mailings_message_count_insert ON mailings_message;
DROP TRIGGER IF EXISTS mailings_message_count_update ON mailings_message;
DROP TRIGGER IF EXISTS mailings_message_count_delete ON mailings_message;
DROP FUNCTION IF EXISTS mailings_message_count_insert();
DROP FUNCTION IF EXISTS mailings_message_count_update();
DROP FUNCTION IF EXISTS mailings_message_count_delete();
"""

# SQLite has no statement-level triggers: one delta row per changed message.
SQLITE = [
    """
    CREATE TRIGGER mailings_message_count_insert AFTER INSERT ON mailings_message
    BEGIN
        INSERT INTO mailings_messagecountdelta (mailing_id, status, delta)
        VALUES (NEW.mailing_id, NEW.status, 1);
    END
    """,
    """
    CREATE TRIGGER mailings_message_count_update AFTER UPDATE OF status ON mailings_message
    WHEN OLD.status <> NEW.status
    BEGIN
        INSERT INTO mailings_messagecountdelta (mailing_id, status, delta)
        VALUES (OLD.mailing_id, OLD.status, -1), (NEW.mailing_id, NEW.status, 1);
    END
    """,
    """
    CREATE TRIGGER mailings_message_count_delete AFTER DELETE ON mailings_message
    BEGIN
        INSERT INTO mailings_messagecountdelta (mailing_id, status, delta)
        VALUES (OLD.mailing_id, OLD.status, -1);
    END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS mailings_message_count_insert",
    "DROP TRIGGER IF EXISTS mailings_message_count_update",
    "DROP TRIGGER IF EXISTS mailings_message_count_delete",
]


class Migration(migrations.Migration):
    dependencies = [("mailings", "0001_initial")]

    operations = [
        install_triggers(
            postgres=POSTGRES,
            postgres_reverse=POSTGRES_REVERSE,
            sqlite=SQLITE,
            sqlite_reverse=SQLITE_REVERSE,
        )
    ]
