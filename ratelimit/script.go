package ratelimit

import (
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcra checks and takes ARGV[3] (default 1) requests' tokens from the bucket
// KEYS[1]; ARGV[1] is the emission interval in microseconds, ARGV[2] the burst. The key holds
// the theoretical arrival time (TAT): when the bucket is empty of debt it is
// at or before now, each request pushes it one interval later, and a request
// passes while the new TAT stays within burst intervals of now. It returns
// {allowed, retryAfterµs, remaining, resetAfterµs}.
//
// Time is Redis's own (TIME), so every service replica agrees. Before Redis 5
// a script could not write after TIME without replicate_commands; later
// versions replicate effects anyway and ignore the call.
var gcra = redis.NewScript(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3] or '1')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if tat == nil or tat < now then tat = now end
local tolerance = interval * burst
local newTat = tat + interval * cost
local allowAt = newTat - tolerance
if now < allowAt then
  return {0, math.ceil(allowAt - now), 0, math.ceil(tat - now)}
end
local ttl = math.ceil((newTat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', ttl)
return {1, 0, math.floor((tolerance - (newTat - now)) / interval + 1e-6), math.ceil(newTat - now)}
`)

// parse turns the script's reply into a Decision.
func parse(reply any, l Limit) (Decision, error) {
	vals, ok := reply.([]any)
	if !ok || len(vals) != 4 {
		return Decision{}, fmt.Errorf("unexpected script reply %T", reply)
	}
	var n [4]int64
	for i, v := range vals {
		x, ok := v.(int64)
		if !ok {
			return Decision{}, fmt.Errorf("unexpected script reply element %d: %T", i, v)
		}
		n[i] = x
	}
	return Decision{
		Allowed:    n[0] == 1,
		RetryAfter: time.Duration(n[1]) * time.Microsecond,
		Remaining:  int(n[2]),
		ResetAfter: time.Duration(n[3]) * time.Microsecond,
		Limit:      l,
	}, nil
}

// args are the script's arguments for taking cost tokens under a limit.
func args(l Limit, cost int) []any {
	return []any{strconv.FormatFloat(l.interval(), 'f', 3, 64), l.burst(), cost}
}
