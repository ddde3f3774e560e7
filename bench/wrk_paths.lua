-- wrk script: GET the request paths listed in a file, one per line, each thread walking the list
-- from its own starting point (thread k of n starts at k/n of it) and around again; each answer
-- must be 200 and match a Lua pattern, else it counts as wrong. Prints the WRK_JSON summary line
-- of wrk_report.lua plus "wrong" (bench/wrk_runner.py parses it).
-- Environment: WRK_PATHS_FILE (required), WRK_EXPECT (a Lua pattern; unset: no check of the
-- bodies, only wrk's own count of non-2xx/3xx answers).

local paths_file = os.getenv("WRK_PATHS_FILE")
local expect = os.getenv("WRK_EXPECT")

local threads = {}
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
  table.insert(threads, thread)
end

local paths = {}
local position = 1
wrong = 0

function init(args)
  for line in io.lines(paths_file) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("no paths in " .. tostring(paths_file)) end
  -- thread_number is set by setup() before init() runs in the thread.
  local count = tonumber(os.getenv("WRK_THREADS") or "1")
  position = 1 + math.floor((thread_number - 1) * #paths / count)
end

function request()
  local path = paths[position]
  position = position + 1
  if position > #paths then position = 1 end
  return wrk.format("GET", path)
end

-- Only with WRK_EXPECT: defining response() makes wrk hand every body to Lua (a copy of each,
-- 170 KB for a page of descriptors). Without it, wrk still counts answers that are not 2xx/3xx.
if expect ~= nil then
  function response(status, headers, body)
    if status ~= 200 or not string.find(body, expect) then
      wrong = wrong + 1
    end
  end
end

function done(summary, latency, requests)
  local total_wrong = 0
  for _, thread in ipairs(threads) do
    total_wrong = total_wrong + (thread:get("wrong") or 0)
  end
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
    string.format('"wrong":%d', total_wrong),
  }
  for _, named in ipairs({ { "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p999", 99.9 } }) do
    parts[#parts + 1] = string.format('"latency_%s_us":%d', named[1], latency:percentile(named[2]))
  end
  io.write("WRK_JSON {" .. table.concat(parts, ",") .. "}\n")
end
