package economy

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// configCache keeps guild configurations in memory. Every process drops a
// guild's entry when any process publishes jobs.TopicConfigChanged for it; the
// TTL bounds staleness should a notification be lost (a Redis blip).
type configCache struct {
	mu      sync.RWMutex
	entries map[int64]cachedConfig
	ttl     time.Duration
	// gen counts invalidations, so a load that raced with one is not cached.
	gen uint64
}

type cachedConfig struct {
	cfg     Config
	fetched time.Time
}

func (c *configCache) get(guild int64, now time.Time) (Config, bool) {
	c.mu.RLock()
	e, ok := c.entries[guild]
	c.mu.RUnlock()
	if !ok || now.Sub(e.fetched) > c.ttl {
		return Config{}, false
	}
	return e.cfg.clone(), true
}

func (c *configCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put caches cfg unless an invalidation happened since gen was read.
func (c *configCache) put(guild int64, cfg Config, now time.Time, gen uint64) {
	c.mu.Lock()
	if c.gen == gen {
		c.entries[guild] = cachedConfig{cfg: cfg.clone(), fetched: now}
	}
	c.mu.Unlock()
}

func (c *configCache) drop(guild int64) {
	c.mu.Lock()
	delete(c.entries, guild)
	c.gen++
	c.mu.Unlock()
}

func (c Config) clone() Config {
	c.StreakTiers = append([]StreakTier{}, c.StreakTiers...)
	c.RoleRewards = append([]RoleReward{}, c.RoleRewards...)
	return c
}

// listenConfigChanges subscribes the cache to invalidations until ctx ends.
func (s *Service) listenConfigChanges(ctx context.Context) error {
	_, err := s.bus.Subscribe(ctx, jobs.TopicConfigChanged, func(m bus.Message) {
		guild, err := strconv.ParseInt(string(m.Payload), 10, 64)
		if err != nil {
			s.log.Warn("ignoring malformed config invalidation", "payload", string(m.Payload))
			return
		}
		s.configs.drop(guild)
	})
	return err
}

// Config returns the guild's configuration (the defaults until first saved).
func (s *Service) Config(ctx context.Context, guild int64) (Config, error) {
	now := s.now()
	if cfg, ok := s.configs.get(guild, now); ok {
		return cfg, nil
	}
	gen := s.configs.generation()
	cfg, err := loadConfig(ctx, s.db.Q(), guild)
	if err != nil {
		return Config{}, err
	}
	s.configs.put(guild, cfg, now, gen)
	return cfg, nil
}

func loadConfig(ctx context.Context, q *sqldb.Queries, guild int64) (Config, error) {
	row, err := q.GetGuildConfig(ctx, guild)
	if store.IsNoRows(err) {
		return DefaultConfig(), nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("load config of guild %d: %w", guild, err)
	}
	cfg := Config{
		StartingBalance:       row.StartingBalance,
		DailyAmount:           row.DailyAmount,
		MaxTransfer:           row.MaxTransfer,
		TransferCooldownHours: int(row.TransferCooldownHours),
		SquadMinBalance:       row.SquadMinBalance,
		DailyFeedback:         row.DailyFeedback,
		Version:               row.Version,
		StreakTiers:           []StreakTier{},
		RoleRewards:           []RoleReward{},
	}
	if err := json.Unmarshal([]byte(row.StreakTiers), &cfg.StreakTiers); err != nil {
		return Config{}, fmt.Errorf("decode streak tiers of guild %d: %w", guild, err)
	}
	rewards, err := q.ListRoleRewards(ctx, guild)
	if err != nil {
		return Config{}, fmt.Errorf("load role rewards of guild %d: %w", guild, err)
	}
	for _, r := range rewards {
		cfg.RoleRewards = append(cfg.RoleRewards, RoleReward{RoleID: r.RoleID, Threshold: r.Threshold})
	}
	return cfg, nil
}

// UpdateConfig validates and saves a guild's configuration, records the
// change in the audit log, and tells every process to drop its cached copy.
func (s *Service) UpdateConfig(ctx context.Context, guild, actor int64, cfg Config) (Config, error) {
	cfg = cfg.clone() // Validate sorts; the caller's slices stay as they were
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	tiers, err := json.Marshal(cfg.StreakTiers)
	if err != nil {
		return Config{}, err
	}
	var saved Config
	changed := false
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		before, err := loadConfig(ctx, tx.Queries, guild)
		if err != nil {
			return err
		}
		// A save that changes nothing writes nothing: no new version, no
		// audit entry that only says "saved", no invalidation.
		if sameSettings(before, cfg) {
			saved = before
			return nil
		}
		changed = true
		row, err := tx.UpsertGuildConfig(ctx, sqldb.UpsertGuildConfigParams{
			GuildID: guild, StartingBalance: cfg.StartingBalance, DailyAmount: cfg.DailyAmount,
			MaxTransfer: cfg.MaxTransfer, TransferCooldownHours: int32(cfg.TransferCooldownHours),
			StreakTiers: string(tiers), SquadMinBalance: cfg.SquadMinBalance, DailyFeedback: cfg.DailyFeedback, UpdatedAt: s.now(),
		})
		if err != nil {
			return fmt.Errorf("save config: %w", err)
		}
		if err := tx.DeleteRoleRewards(ctx, guild); err != nil {
			return err
		}
		for _, r := range cfg.RoleRewards {
			if err := tx.InsertRoleReward(ctx, sqldb.InsertRoleRewardParams{GuildID: guild, RoleID: r.RoleID, Threshold: r.Threshold}); err != nil {
				return fmt.Errorf("save role reward: %w", err)
			}
		}
		saved = cfg.clone()
		saved.Version = row.Version
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "bytes.config.update", Target: "guild", At: s.now()}, before, saved)
	})
	if err != nil {
		return Config{}, err
	}
	if changed {
		s.configs.drop(guild)
		s.announceConfigChange(ctx, guild)
	}
	return saved, nil
}

// sameSettings compares two valid (sorted) configs, their versions aside.
func sameSettings(a, b Config) bool {
	a, b = a.clone(), b.clone() // no nil slices: none and empty are the same
	a.Version, b.Version = 0, 0
	return reflect.DeepEqual(a, b)
}

// announceConfigChange is best effort: the TTL covers a lost notification.
func (s *Service) announceConfigChange(ctx context.Context, guild int64) {
	if err := s.bus.Publish(ctx, jobs.TopicConfigChanged, []byte(strconv.FormatInt(guild, 10))); err != nil {
		s.log.Warn("config change not announced; other processes see it within the cache TTL",
			"guild_id", guild, "err", err)
	}
}
