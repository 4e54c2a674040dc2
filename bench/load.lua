-- wrk script for bench/load.py: cycle through pre-built request bodies, check
-- every answer, and print one JSON line of results.
--
--   wrk -t1 -c16 -d10s -s bench/load.lua URL -- EXPECT [BODIES [OFFSET]]
--
-- EXPECT   a substring every answer's body must contain (with status 200)
-- BODIES   a file of request bodies, one per line, each POSTed as
--          application/json; without it every request is a GET of URL
-- OFFSET   the 0-based line to start at (runs continue where the last stopped)
--
-- done() prints "WRK-RESULT {...}" with the request count, the checked answers,
-- the failures (wrong status or body; wrk's socket errors are added by
-- bench/wrk.py), the first failed answer, wrk's own p50 and p99, and wrk's
-- latency histogram as [microseconds, count] pairs, so runs of several wrk
-- processes can be merged. The histogram is the one wrk's percentiles come
-- from: after the run wrk adds samples for the requests a slow answer held
-- back (its coordinated-omission correction), so it counts a few more samples
-- than answers.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expect = args[1]
  checked, failures, first_failure = 0, 0, nil
  requests_ = {}
  if args[2] ~= nil and args[2] ~= "" then
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(args[2]) do
      if line ~= "" then
        table.insert(requests_, wrk.format("POST", nil, headers, line))
      end
    end
  else
    table.insert(requests_, wrk.format("GET"))
  end
  -- wrk calls request() once before the run to check the request it builds (on
  -- thread 1, the only one here): start one early so the first one sent is OFFSET.
  next_ = (tonumber(args[3] or "0") - 1) % #requests_
end

function request()
  next_ = next_ % #requests_ + 1
  return requests_[next_]
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or not string.find(body, expect, 1, true) then
    failures = failures + 1
    if first_failure == nil then
      first_failure = status .. " " .. string.sub(body, 1, 300)
    end
  end
end

local function quote(text)
  local escaped = string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
  local total_checked, total_failures, first = 0, 0, nil
  for _, thread in ipairs(threads) do
    total_checked = total_checked + thread:get("checked")
    total_failures = total_failures + thread:get("failures")
    first = first or thread:get("first_failure")
  end
  local e = summary.errors
  local buckets = {}
  for i = 1, #latency do
    local value, count = latency(i)
    buckets[#buckets + 1] = string.format("[%d,%d]", value, count)
  end
  io.write(string.format(
    'WRK-RESULT {"duration_us":%d,"requests":%d,"checked":%d,"failures":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"first_failure":%s,"p50_us":%d,"p99_us":%d,"histogram":[%s]}\n',
    summary.duration, summary.requests, total_checked, total_failures,
    e.connect, e.read, e.write, e.timeout,
    first and quote(first) or "null", latency:percentile(50), latency:percentile(99),
    table.concat(buckets, ",")))
end
