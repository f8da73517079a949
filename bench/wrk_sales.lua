-- wrk script: single-line POST /v1/sales with invoice ids unique per thread and run, so
-- every request records a new event (duplicates would skip the disk and flatter the figure).
-- The token comes from the KALEDGER_TOKEN environment variable.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  run = os.time()
  counter = 0
  token = os.getenv("KALEDGER_TOKEN")
end
request = function()
  counter = counter + 1
  local body = '{"lines":[{"account_id":"load","invoice_id":"W-' .. tid .. '-' .. run .. '-' .. counter
    .. '","line":1,"sku":"SKU-1","category":"beverages","quantity":"3","net_amount":"99.00",'
    .. '"cost_amount":"70.00","occurred_on":"2026-10-15"}]}'
  return wrk.format("POST", "/v1/sales",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
