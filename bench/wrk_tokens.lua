-- wrk script for bench_server.py: every request carries "Authorization: Bearer <token>";
-- each token serves `per` requests, then is done (so each user stays inside its hourly quota
-- while the server counts the quota on every request). `group` users take turns, request by
-- request, like `group` clients each on its own connection: one user's requests do not all
-- arrive at once (which would send all but the first past the cold caller cache together).
-- Run with one thread (-t1): the count is per Lua state.
--
--   wrk -t1 -c16 -d10s -s bench/wrk_tokens.lua URL -- TOKENS_FILE OFFSET COUNT PER GROUP
--
-- uses COUNT tokens from line OFFSET (0-based) of TOKENS_FILE
--
-- done() prints one JSON line: requests, seconds, errors (socket errors and answers >= 400),
-- requests sent past the last token ("overflow", answered 401), latency p50/p99/max in ms.
-- wrk's latency is closed-loop (a request is sent when its connection frees), so it omits
-- the requests a stall would have delayed: it is not the fixed-rate latency figure.

local requests = {}
local per = 300
local group = 16
local sent = 0
overflow = 0

function init(args)
   local offset = tonumber(args[2]) or 0
   local count = tonumber(args[3]) or 0
   per = tonumber(args[4]) or 300
   group = tonumber(args[5]) or 16
   local n = 0
   for token in io.lines(args[1]) do
      if n >= offset and n < offset + count then
         requests[#requests + 1] =
            wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
      end
      n = n + 1
   end
   requests[#requests + 1] = wrk.format("GET", nil, {})  -- past the last token: a 401
end

function request()
   local i = math.floor(sent / (per * group)) * group + sent % group + 1
   sent = sent + 1
   if i >= #requests then
      overflow = overflow + 1
      return requests[#requests]
   end
   return requests[i]
end

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

function done(summary, latency, _)
   local over = 0
   for _, t in ipairs(threads) do
      over = over + (t:get("overflow") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "seconds": %.3f, "errors": %d, "status_errors": %d, "overflow": %d, '
         .. '"p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
      summary.requests, summary.duration / 1e6,
      e.connect + e.read + e.write + e.status + e.timeout, e.status, over,
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
