package botstatus

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/redis/go-redis/v9"
)

// Redis keeps each heartbeat under Prefix+instance with a TTL of MaxAge, so
// a bot process that stops disappears on its own.
type Redis struct {
	Client *redis.Client
	Prefix string // default "smarterdev:bot:heartbeat:"
}

// DefaultRedisPrefix is where heartbeats live in Redis.
const DefaultRedisPrefix = "smarterdev:bot:heartbeat:"

func (r Redis) prefix() string {
	if r.Prefix == "" {
		return DefaultRedisPrefix
	}
	return r.Prefix
}

func (r Redis) Write(ctx context.Context, h Heartbeat) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return r.Client.Set(ctx, r.prefix()+h.Instance, b, MaxAge).Err()
}

func (r Redis) Read(ctx context.Context) ([]Heartbeat, error) {
	var keys []string
	iter := r.Client.Scan(ctx, 0, r.prefix()+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	vals, err := r.Client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var out []Heartbeat
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // expired between SCAN and MGET
		}
		var h Heartbeat
		if json.Unmarshal([]byte(s), &h) == nil {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out, nil
}
