-- wrk: record writes over HTTP, each request a new service record, counting the 201s.
-- TOKEN (a bearer token) and UNIT come from the environment.
local token = os.getenv("TOKEN")
local unit = os.getenv("UNIT") or "230102001001"
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  created, failed, n = 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  n = n + 1
  local body = string.format(
    '{"kind":"services","fields":{"unit":"%s","date":"2010-%02d-%02d","item":%d,"people":%d}}',
    unit, n % 12 + 1, n % 28 + 1, (n + id * 7) % 100 + 1, n % 50 + 1)
  return wrk.format(nil, "/api/v1/records", nil, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local c, f = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    f = f + t:get("failed")
  end
  io.write(string.format("created=%d failed=%d requests=%d seconds=%.2f p50_ms=%.2f p99_ms=%.2f\n",
    c, f, summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
