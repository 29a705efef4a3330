-- wrk script for bench/soak.py: cycles through prepared raw HTTP requests (the file named after
-- `--`: "<length>\n<bytes>" records, written and checked by soak.py, signatures included), counts
-- the responses per status and keeps a few error bodies. done() prints "SOAK ..." lines that
-- soak.py reads. LuaJIT has no HMAC, hence the requests are signed beforehand in Python.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local reqs, n, i = {}, 0, 0
statuses = {}
samples = {}
local nsamples = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  while true do
    local len = f:read("*l")
    if not len then break end
    n = n + 1
    reqs[n] = f:read(tonumber(len))
  end
  f:close()
  -- Threads start at different places in the mix.
  i = (id * 397) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 and status ~= 206 and nsamples < 5 then
    nsamples = nsamples + 1
    samples[nsamples] = status .. " " .. string.sub(body or "", 1, 300):gsub("%s+", " ")
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
    for _, sample in ipairs(t:get("samples")) do
      io.write("SOAK sample ", sample, "\n")
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("SOAK status %d %d\n", status, count))
  end
  io.write(string.format("SOAK requests %d\nSOAK duration_us %d\nSOAK bytes %d\n",
                         summary.requests, summary.duration, summary.bytes))
  for _, kind in ipairs({"connect", "read", "write", "timeout"}) do
    io.write(string.format("SOAK socket_%s %d\n", kind, summary.errors[kind]))
  end
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("SOAK latency_us p%g %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("SOAK latency_us max %d\n", latency.max))
end
