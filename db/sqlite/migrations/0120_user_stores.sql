-- Issue 16 item 2: read-only secondary user stores (LDAP), each under a
-- domain name; their users log in as DOMAIN/name. The tenant column holds
-- the tenant the store belongs to: carbon.super, the only one today.
-- bind_password is a server secret, kept as the secrets table keeps the
-- session keys (the server needs it in clear to bind) and never shown.
-- role_map is space-separated group=role pairs.

CREATE TABLE user_stores (
    id                INTEGER PRIMARY KEY,
    tenant            TEXT    NOT NULL DEFAULT 'carbon.super',
    domain            TEXT    NOT NULL COLLATE NOCASE,
    url               TEXT    NOT NULL,
    bind_dn           TEXT    NOT NULL,
    bind_password     TEXT    NOT NULL,
    user_search_base  TEXT    NOT NULL,
    user_filter       TEXT    NOT NULL,
    user_attribute    TEXT    NOT NULL,
    group_search_base TEXT    NOT NULL,
    role_map          TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    UNIQUE (tenant, domain)
);

-- The local account of a user store's user (users.username is
-- DOMAIN/name, its password_hash empty: it matches no password). Its roles
-- are the store's groups' at the last log-in. disabled_by_store: the sync
-- found the user gone or disabled in the store and disabled the account;
-- a later log-in through the store enables it again, an administrator's
-- disabling stays.
CREATE TABLE user_store_users (
    user_id           INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    store_id          INTEGER NOT NULL REFERENCES user_stores (id) ON DELETE CASCADE,
    disabled_by_store INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX user_store_users_store ON user_store_users (store_id);
