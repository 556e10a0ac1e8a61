-- get_auth.lua: wrk script for the growth bench's reads (bench/growth.sh):
-- GETs the URL wrk was given with the read key from the environment
-- (BENCH_READ_KEY), never from the command line. A request counts as an
-- error unless it answers 200.

local headers

init = function(args)
	headers = {["Authorization"] = "Bearer " .. (os.getenv("BENCH_READ_KEY") or "")}
end

request = function()
	return wrk.format("GET", nil, headers)
end

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
		'"errors":%d,"status_errors":%d,"timeouts":%d}\n',
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
		e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
