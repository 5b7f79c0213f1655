"""The number of clients without counting them (``clients.counters``): a table of deltas,
triggers that append one per statement inserting or deleting clients (one per row on
SQLite), and the count of the clients already there."""

from django.db import migrations, models

from core.triggers import install_triggers

POSTGRES = """
LOCK TABLE clients_client IN SHARE MODE; -- no write between the triggers and the backfill
CREATE OR REPLACE FUNCTION clients_client_count_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO clients_clientcountdelta (delta)
    SELECT count(*) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION clients_client_count_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO clients_clientcountdelta (delta)
    SELECT -count(*) FROM old_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE TRIGGER clients_client_count_insert AFTER INSERT ON clients_client
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION clients_client_count_insert();
CREATE TRIGGER clients_client_count_delete AFTER DELETE ON clients_client
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION clients_client_count_delete();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS clients_client_count_insert ON clients_client;
DROP TRIGGER IF EXISTS clients_client_count_delete ON clients_client;
DROP FUNCTION IF EXISTS clients_client_count_insert();
DROP FUNCTION IF EXISTS clients_client_count_delete();
"""

# SQLite has no statement-level triggers: one delta row per client (an upsert that updates
# fires no INSERT trigger).
SQLITE = [
    """
    CREATE TRIGGER clients_client_count_insert AFTER INSERT ON clients_client
    BEGIN
        INSERT INTO clients_clientcountdelta (delta) VALUES (1);
    END
    """,
    """
    CREATE TRIGGER clients_client_count_delete AFTER DELETE ON clients_client
    BEGIN
        INSERT INTO clients_clientcountdelta (delta) VALUES (-1);
    END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS clients_client_count_insert",
    "DROP TRIGGER IF EXISTS clients_client_count_delete",
]

BACKFILL = (
    "INSERT INTO clients_clientcountdelta (delta) "
    "SELECT count(*) FROM clients_client HAVING count(*) > 0"
)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0003_consent"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClientCountDelta",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("delta", models.BigIntegerField()),
            ],
        ),
        install_triggers(
            postgres=POSTGRES,
            postgres_reverse=POSTGRES_REVERSE,
            sqlite=SQLITE,
            sqlite_reverse=SQLITE_REVERSE,
            then=[BACKFILL],
        ),
    ]
