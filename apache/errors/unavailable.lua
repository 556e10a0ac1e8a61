-- unavailable.lua: Apache's own 502 and 504 (creditd did not answer, or
-- not in time) answered as 503 `unavailable` with Retry-After, as nginx
-- answers them (creditd-errors.conf) and as Apache answers creditd not
-- running: one status for "creditd cannot answer now, retry". An
-- ErrorDocument keeps the status it handles; only a handler may change
-- it, so mod_lua (a2enmod lua) does, when it is loaded
-- (creditd-proxy-fcgi.conf); without it the two keep their statuses, with
-- the same JSON code, which the clients retry whatever the status.
function handle(r)
    r.status = 503
    r.content_type = "application/json"
    r.headers_out["Retry-After"] = "2"
    r.headers_out["Cache-Control"] = "no-store"
    r:puts('{"error":{"type":"api_error","code":"unavailable","message":"creditd did not answer","param":null}}\n')
    return apache2.OK
end
