-- Issue 12 item 6: whether the gateway passes an API's method overrides
-- (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, _method) on
-- to its backend, checking each call as both methods, rather than refusing
-- a call that names another method than its own. 0: refused, unless the
-- server's --gateway-pass-method-override passes them for every API. The
-- gateway reads it, so changing it starts a new access generation, which
-- the triggers of 0023 do for every update of apis.

ALTER TABLE apis ADD COLUMN pass_method_override INTEGER NOT NULL DEFAULT 0;
