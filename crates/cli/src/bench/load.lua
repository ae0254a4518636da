-- wrk script written by `userorder bench`: every request gets a fresh order key, so each
-- upload is a new order (no retries, no stale refusals). The Rust side fills in the
-- settings below; each wrk thread numbers its own requests.
local method = "{{METHOD}}"
local path = "{{PATH}}"
local body_template = [=====[{{BODY}}]=====]
local headers = { ["Content-Type"] = "application/json", ["Cookie"] = "{{COOKIE}}" }
local openids = { {{OPENIDS}} }
local run = "{{RUN}}"
local pace_ms = {{PACE_MS}}

local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
end

local counter = 0

function request()
  counter = counter + 1
  if body_template == "" then
    return wrk.format(method, path, headers)
  end
  local key = run .. "t" .. thread_no .. "n" .. counter
  local openid = openids[(counter % #openids) + 1]
  local body = body_template:gsub("__KEY__", key):gsub("__OPENID__", openid)
  return wrk.format(method, path, headers, body)
end

-- Paced runs: each connection thinks for an exponentially distributed time with mean
-- `pace_ms` before each request, as independent clients do. (A fixed pause made all the
-- connections answered by one commit pause together and arrive together again, so the
-- run measured its own bursts.) Seeded per thread, so runs repeat.
function init(args)
  math.randomseed(thread_no * 7919)
end

if pace_ms > 0 then
  function delay()
    return math.floor(-pace_ms * math.log(1 - math.random()) + 0.5)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"requests":%d,"duration_us":%d,"socket_errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
