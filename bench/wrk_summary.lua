-- The summary line of the wrk scripts (wrk_report.lua, wrk_paths.lua): one line "WRK_JSON {...}"
-- that bench/wrk_runner.py parses; latencies in microseconds. Loaded with dofile() from beside the
-- script that uses it: `summary.write(summary, latency, extra)`, where `extra` maps more names to
-- integers (wrk_paths.lua's "wrong").

local M = {}

function M.write(summary, latency, extra)
  local errors = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"errors_connect":%d', errors.connect),
    string.format('"errors_read":%d', errors.read),
    string.format('"errors_write":%d', errors.write),
    string.format('"errors_status":%d', errors.status),
    string.format('"errors_timeout":%d', errors.timeout),
    string.format('"latency_mean_us":%.1f', latency.mean),
    string.format('"latency_max_us":%d', latency.max),
  }
  for name, value in pairs(extra or {}) do
    parts[#parts + 1] = string.format('"%s":%d', name, value)
  end
  for _, named in ipairs({ { "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p999", 99.9 } }) do
    parts[#parts + 1] = string.format('"latency_%s_us":%d', named[1], latency:percentile(named[2]))
  end
  io.write("WRK_JSON {" .. table.concat(parts, ",") .. "}\n")
end

return M
