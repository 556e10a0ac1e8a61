-- get.lua: wrk script for the plain GET rows (the floor and creditd's
-- /healthz; the growth bench's pages and reports). wrk sends the URL it
-- was given, with BENCH_READ_KEY (from the environment, never the command
-- line) as a bearer key when that is set; this reports, as one JSON line
-- starting with BENCH_JSON that bench/run.sh and growth.sh pick up.
-- Latency is per request, in microseconds; "errors" counts socket errors,
-- timeouts and HTTP statuses above 399.
local key = os.getenv("BENCH_READ_KEY")
if key ~= nil and key ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. key
end

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
		'"errors":%d,"status_errors":%d,"timeouts":%d}\n',
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
		e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
