-- wrk script for the REST benchmark: optional PATCH with a changing body, and a JSON summary line.
-- Environment: WRK_METHOD (default GET); WRK_BODY_PREFIX: when set, each request sends the JSON
-- string "<prefix><thread>-<counter>" so that no write is a no-op; WRK_CONTENT_TYPE.
-- done() prints one line "WRK_JSON {...}" that bench/run_rest.py parses (latencies in microseconds).

local method = os.getenv("WRK_METHOD") or "GET"
local body_prefix = os.getenv("WRK_BODY_PREFIX")
local content_type = os.getenv("WRK_CONTENT_TYPE") or "application/json"

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

wrk.method = method
if body_prefix ~= nil then
  -- Defining request() makes wrk build every request anew (slower), so only writes do it.
  local counter = 0
  function request()
    counter = counter + 1
    local value = string.format('"%s%d-%d"', body_prefix, thread_number or 0, counter)
    return wrk.format(method, nil, { ["Content-Type"] = content_type }, value)
  end
end

function done(summary, latency, requests)
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
  for _, named in ipairs({ { "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p999", 99.9 } }) do
    parts[#parts + 1] = string.format('"latency_%s_us":%d', named[1], latency:percentile(named[2]))
  end
  io.write("WRK_JSON {" .. table.concat(parts, ",") .. "}\n")
end
