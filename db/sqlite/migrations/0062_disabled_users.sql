-- An administrator can disable an account (the store's Users page,
-- apistore user disable) and enable it again. A disabled user cannot log
-- in nor get tokens, and neither the user's tokens nor those issued to the
-- keys of the user's applications are valid: the validation reads this
-- column, so setting it must start a new access generation, which the
-- users_update_access trigger of 0023 does for every update of users.

ALTER TABLE users ADD COLUMN disabled_at INTEGER; -- Unix milliseconds; NULL: enabled
