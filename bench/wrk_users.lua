-- wrk script for bench_memory.py: COUNT users from line OFFSET of TOKENS_FILE send PER
-- requests each ("Authorization: Bearer <token>"), GROUP users taking turns request by
-- request (like wrk_tokens.lua); once every request has been answered the thread stops
-- and writes MARKER, and the caller ends wrk with SIGINT (wrk 4.1 waits out -d even when
-- its threads have stopped), so a run sends COUNT x PER requests however long it takes.
-- Run with -t1.
--
--   wrk -t1 -c16 -d36000s -s bench/wrk_users.lua URL -- TOKENS_FILE OFFSET COUNT PER GROUP MARKER
--
-- done() prints one JSON line: requests answered, seconds, errors (socket errors and
-- answers other than 200).

local requests = {}
local per = 50
local group = 16
local sent = 0
local total = 0
local marker = nil
answered = 0
bad = 0

function init(args)
   local offset = tonumber(args[2]) or 0
   local count = tonumber(args[3]) or 0
   per = tonumber(args[4]) or 50
   group = tonumber(args[5]) or 16
   marker = args[6]
   local n = 0
   for token in io.lines(args[1]) do
      if n >= offset and n < offset + count then
         requests[#requests + 1] =
            wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
      end
      n = n + 1
   end
   total = #requests * per
end

function request()
   -- users in turns of `group`; the last turn may be short
   local turn = math.floor(sent / (per * group))
   local first = turn * group
   local size = math.min(group, #requests - first)
   sent = sent + 1
   if size <= 0 then
      return requests[#requests]  -- past the end, in flight: a request more of the last user
   end
   return requests[first + ((sent - 1) % (per * group)) % size + 1]
end

function response(status, headers, body)
   answered = answered + 1
   if status ~= 200 then
      bad = bad + 1
   end
   if answered == total then
      wrk.thread:stop()
      if marker then
         local f = io.open(marker, "w")
         f:write("done")
         f:close()
      end
   end
end

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

function done(summary, latency, _)
   local n, b = 0, 0
   for _, t in ipairs(threads) do
      n = n + (t:get("answered") or 0)
      b = b + (t:get("bad") or 0)
   end
   local e = summary.errors
   io.write(string.format('{"requests": %d, "seconds": %.3f, "errors": %d}\n',
      n, summary.duration / 1e6, b + e.connect + e.read + e.write + e.timeout))
end
