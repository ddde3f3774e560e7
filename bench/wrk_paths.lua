-- wrk script: GET the request paths listed in a file, one per line, each thread walking the list
-- from its own starting point (thread k of n starts at k/n of it) and around again; each answer
-- must be 200 and match a Lua pattern, else it counts as wrong. Prints the WRK_JSON summary line
-- of wrk_summary.lua plus "wrong" (bench/wrk_runner.py parses it).
-- Environment: WRK_PATHS_FILE (required), WRK_EXPECT (a Lua pattern; unset: no check of the
-- bodies, only wrk's own count of non-2xx/3xx answers).

-- wrk_summary.lua lies beside this script (wrk loads it by its path: the source is "@<path>").
local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_summary.lua")

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
  report.write(summary, latency, { wrong = total_wrong })
end
