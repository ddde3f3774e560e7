-- wrk script for the REST benchmark: optional PATCH with a changing body, and a JSON summary line.
-- Environment: WRK_METHOD (default GET); WRK_BODY_PREFIX: when set, each request sends the JSON
-- string "<prefix><thread>-<counter>" so that no write is a no-op; WRK_CONTENT_TYPE.
-- done() prints the WRK_JSON summary line of wrk_summary.lua, which bench/wrk_runner.py parses.

-- wrk_summary.lua lies beside this script (wrk loads it by its path: the source is "@<path>").
local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_summary.lua")

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
  report.write(summary, latency, {})
end
