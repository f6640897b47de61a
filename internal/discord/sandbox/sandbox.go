// Package sandbox runs the Discord emulator in-process with the demo guild,
// so `make run` without a Discord token shows every command working: the
// bot connects to the emulator, and a person drives it through the
// emulator's control API (docs/emulator.md).
package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
)

// DefaultAddr is where the sandbox listens; when it is taken, a free port
// on 127.0.0.1 is used instead (and logged).
const DefaultAddr = "127.0.0.1:8081"

// Sandbox is a running emulator with the demo guild.
type Sandbox struct {
	Emulator *emulator.Emulator
	Demo     *emulator.Demo
	Base     string // http://127.0.0.1:PORT
}

// Start starts the emulator (2 shards recommended) on addr, or on a free
// port when addr is taken, and seeds the demo guild.
func Start(addr string, log *slog.Logger) (*Sandbox, error) {
	e := emulator.New(emulator.Options{Shards: 2, Logger: log, HeartbeatInterval: time.Second})
	base, err := e.Start(addr)
	if err != nil {
		base, err = e.Start("127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("start the Discord emulator: %w", err)
		}
	}
	return &Sandbox{Emulator: e, Demo: e.SeedDemo(), Base: base}, nil
}

// Token is the bot token the emulator accepts.
func (s *Sandbox) Token() string { return s.Emulator.BotToken() }

// APIURL is the REST base for the bot.
func (s *Sandbox) APIURL() string { return s.Emulator.APIURL() }

// Close stops the emulator.
func (s *Sandbox) Close() { s.Emulator.Close() }

// SeedProduct gives the demo guild its squads (Gophers and Rustaceans, on
// the emulator's squad roles) and two role rewards, unless an earlier run
// already did (data survives restarts in SQLite, while the emulator makes new
// role ids on every start: squads and rewards are pointed at the new ones).
func (s *Sandbox) SeedProduct(ctx context.Context, econ *economy.Service, sq *squads.Service) error {
	g := int64(s.Demo.GuildID)
	list, err := sq.List(ctx, g)
	if err != nil {
		return err
	}
	for _, spec := range []squads.Spec{
		{Name: "Gophers", Description: "We write Go.", RoleID: int64(s.Demo.Roles[emulator.RoleGophers]), SwitchCost: 50, MaxMembers: 10, Active: true},
		{Name: "Rustaceans", Description: "We write Rust.", RoleID: int64(s.Demo.Roles[emulator.RoleRustaceans]), SwitchCost: 50, Active: true},
	} {
		var existing *squads.Squad
		for i := range list {
			if list[i].Name == spec.Name {
				existing = &list[i]
			}
		}
		switch {
		case existing == nil:
			_, err = sq.Create(ctx, g, 0, spec)
		case existing.RoleID != spec.RoleID: // the emulator made new role ids this run
			spec.SwitchCost, spec.MaxMembers, spec.Active, spec.Description =
				existing.SwitchCost, existing.MaxMembers, existing.Active, existing.Description
			_, err = sq.Update(ctx, g, 0, existing.ID, spec)
		}
		if err != nil {
			return fmt.Errorf("seed demo squad %s: %w", spec.Name, err)
		}
	}
	cfg, err := econ.Config(ctx, g)
	if err != nil {
		return err
	}
	known := map[int64]bool{}
	for _, id := range s.Demo.Roles {
		known[int64(id)] = true
	}
	stale := cfg.Version == 0
	for _, r := range cfg.RoleRewards {
		stale = stale || !known[r.RoleID]
	}
	if stale {
		cfg.RoleRewards = []economy.RoleReward{
			{RoleID: int64(s.Demo.Roles[emulator.RoleHelper]), Threshold: 50},
			{RoleID: int64(s.Demo.Roles[emulator.RoleContributor]), Threshold: 200},
		}
		if _, err := econ.UpdateConfig(ctx, g, 0, cfg); err != nil {
			return fmt.Errorf("configure the demo guild: %w", err)
		}
	}
	return nil
}

// Banner is the start-up message: what runs and how to drive it.
func (s *Sandbox) Banner() string {
	d := s.Demo
	var b strings.Builder
	fmt.Fprintf(&b, "No SMARTERDEV_DISCORD_TOKEN: the bot runs against an EMULATED Discord at %s\n", s.Base)
	fmt.Fprintf(&b, "(demo guild \"Smarter Dev Demo\" %s; members ada, grace, linus, gopher_gary, rusty_rita, quiet_quinn, trouble_tom, newbie_ned; squads Gophers and Rustaceans).\n", d.GuildID)
	fmt.Fprintf(&b, "Drive it with the control API (full reference: docs/emulator.md):\n")
	fmt.Fprintf(&b, "  E=%s G=%s C=%s U=%s\n", s.Base, d.GuildID, d.BotCommands, d.Members["gopher_gary"])
	b.WriteString("  # say something as gopher_gary (the first message of the day earns bytes and a 🪙 reaction):\n")
	b.WriteString("  curl -s -XPOST $E/_emulator/guilds/$G/channels/$C/messages -d '{\"user_id\":\"'$U'\",\"content\":\"hello\"}'\n")
	b.WriteString("  curl -s $E/_emulator/channels/$C/messages            # what the bot did (reactions, replies)\n")
	b.WriteString("  # run /bytes read, then read the answer:\n")
	b.WriteString("  ID=$(curl -s -XPOST $E/_emulator/interactions -d '{\"kind\":\"command\",\"guild_id\":\"'$G'\",\"channel_id\":\"'$C'\",\"user_id\":\"'$U'\",\"command\":\"bytes read\"}' | sed 's/^{\"id\":\"\\([0-9]*\\)\".*/\\1/')\n")
	b.WriteString("  curl -s $E/_emulator/interactions/$ID\n")
	b.WriteString("  # /squads join answers with a select menu; pick a squad, then click Confirm (ids from the answer above):\n")
	b.WriteString("  curl -s -XPOST $E/_emulator/interactions -d '{\"kind\":\"select\",\"channel_id\":\"'$C'\",\"user_id\":\"'$U'\",\"message_id\":\"MSG\",\"custom_id\":\"squads:pick:...\",\"values\":[\"SQUAD_ID\"]}'\n")
	b.WriteString("  curl -s -XPOST $E/_emulator/interactions -d '{\"kind\":\"button\",\"channel_id\":\"'$C'\",\"user_id\":\"'$U'\",\"message_id\":\"MSG\",\"custom_id\":\"squads:join:...\"}'\n")
	b.WriteString("  curl -s $E/_emulator/guilds/$G/members/$U            # roles granted by the worker\n")
	b.WriteString("Set SMARTERDEV_DISCORD_TOKEN to use the real Discord.")
	return b.String()
}
