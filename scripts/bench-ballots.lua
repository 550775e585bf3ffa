-- wrk: ballots over HTTP from a file of one-time codes (CODES), each thread (THREADS of them)
-- taking its own codes in turn, with one request in ten a repeat of a code it used before.
-- Counts accepted ballots and refused repeats.
local threads = {}
local codes = {}
for line in io.lines(os.getenv("CODES")) do
  if #line > 0 then table.insert(codes, line) end
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  n, cast, repeats, other = 0, 0, 0, 0
  threads_n = tonumber(os.getenv("THREADS")) or 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  n = n + 1
  local k
  if n % 10 == 0 and n > 11 then
    k = ((n - 11) * threads_n + id) % #codes + 1   -- the code this thread used just before
  else
    k = (n * threads_n + id) % #codes + 1
  end
  return wrk.format(nil, "/v/" .. codes[k], nil, "q0=0")
end

function response(status, headers, body)
  if body and string.find(body, "投票成功", 1, true) then cast = cast + 1
  elseif body and string.find(body, "已经投过票", 1, true) then repeats = repeats + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local c, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("cast"); r = r + t:get("repeats"); o = o + t:get("other")
  end
  io.write(string.format("cast=%d refused_repeats=%d other=%d requests=%d seconds=%.2f p99_ms=%.2f\n",
    c, r, o, summary.requests, summary.duration / 1e6, latency:percentile(99) / 1000))
end
