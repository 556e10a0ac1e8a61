-- pairs.lua: wrk script for the chat guard rows. Each connection alternates
-- POST /v1/guard/authorize and POST /v1/guard/settle, settling the hold_id
-- the authorize answered. A pair counts when its settle answers 200.
--
-- wrk keeps one Lua state per thread and does not say which connection a
-- response belongs to, so bench/run.sh runs one connection per thread
-- (-t N -c N): then request() and response() strictly alternate here.
--
-- Arguments (after wrk's --): MODE (spread|hot) ACCOUNTS PREFIX HOT_ACCOUNT
-- MODEL INPUT_TOKENS MAX_OUTPUT_TOKENS OUTPUT_TOKENS TAG [DIGITS] (the digits
-- after PREFIX in an account's name, 5 unless said). The guard key comes from
-- the environment (BENCH_GUARD_KEY), never from the command line.
-- request_ids are TAG-<thread>-<counter>: unique per run and per thread.

local threads = {}
local next_id = 1

setup = function(thread)
	thread:set("tid", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

-- Per-thread state: globals, so that done() can read them with thread:get.
authorized, auth_failed, settled, settle_failed, no_hold = 0, 0, 0, 0, 0

local mode, tag, accounts, prefix, hot_account, model, input_tokens, max_output, output_tokens, name_format
local headers, counter, hold, pending

init = function(args)
	mode = args[1] or "spread"
	accounts = tonumber(args[2] or "10000")
	prefix = args[3] or "acct-"
	hot_account = args[4] or "hot"
	model = args[5] or "gpt-4o"
	input_tokens = tonumber(args[6] or "1000")
	max_output = tonumber(args[7] or "500")
	output_tokens = tonumber(args[8] or "200")
	tag = args[9] or "bench"
	name_format = "%s%0" .. (tonumber(args[10] or "5")) .. "d"
	headers = {
		["Authorization"] = "Bearer " .. (os.getenv("BENCH_GUARD_KEY") or ""),
		["Content-Type"] = "application/json",
	}
	counter = 0
	math.randomseed(os.time() * 1000 + tid)
end

request = function()
	if hold ~= nil then
		local body = string.format('{"hold_id":"%s","input_tokens":%d,"output_tokens":%d}',
			hold, input_tokens, output_tokens)
		hold = nil
		pending = "settle"
		return wrk.format("POST", "/v1/guard/settle", headers, body)
	end
	counter = counter + 1
	local account = hot_account
	if mode ~= "hot" then
		account = string.format(name_format, prefix, math.random(0, accounts - 1))
	end
	local body = string.format(
		'{"account":"%s","model":"%s","input_tokens":%d,"max_output_tokens":%d,"request_id":"%s-%d-%d"}',
		account, model, input_tokens, max_output, tag, tid, counter)
	pending = "authorize"
	return wrk.format("POST", "/v1/guard/authorize", headers, body)
end

response = function(status, hdrs, body)
	if pending == "authorize" then
		if status == 200 then
			hold = string.match(body, '"hold_id"%s*:%s*"([^"]+)"')
			if hold then authorized = authorized + 1 else no_hold = no_hold + 1 end
		else
			auth_failed = auth_failed + 1
		end
	elseif pending == "settle" then
		if status == 200 then settled = settled + 1 else settle_failed = settle_failed + 1 end
	end
	pending = nil
end

done = function(summary, latency, requests)
	local t = {authorized = 0, auth_failed = 0, settled = 0, settle_failed = 0, no_hold = 0}
	for _, thread in ipairs(threads) do
		for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
	end
	local e = summary.errors
	io.write(string.format(
		'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
		'"errors":%d,"status_errors":%d,"timeouts":%d,"pairs":%d,"authorized":%d,' ..
		'"authorize_failed":%d,"settle_failed":%d,"no_hold_id":%d}\n',
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
		e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout, t.settled,
		t.authorized, t.auth_failed, t.settle_failed, t.no_hold))
end
