-- get.lua: wrk script for the plain GET rows (the floor and creditd's
-- /healthz). wrk sends its static request; this only reports, as one JSON
-- line starting with BENCH_JSON that bench/run.sh picks up.
-- Latency is per request, in microseconds; "errors" counts socket errors,
-- timeouts and HTTP statuses above 399.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
		'"errors":%d,"status_errors":%d,"timeouts":%d}\n',
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
		e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
