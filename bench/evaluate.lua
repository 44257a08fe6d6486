-- wrk script: POST /v1/policy/evaluate with a fixed request (bench/policy.sh).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer dev-edu"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"project_id":"bench-pol","system_id":"bench-sys","service_id":"ecs-general","plan_id":"ecs-general-2c4g","quantity":1}'

local non2xx = 0
response = function(status, headers, body)
        if status ~= 200 then
                non2xx = non2xx + 1
        end
end
