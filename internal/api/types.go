package api

import (
	"encoding/json"
	"time"

	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
)

// The API's own shapes: ids are decimal strings (JavaScript loses precision
// above 2^53), and the schema huma derives from these types is exactly what
// goes over the wire. Domain types stay free to change.

// Inputs shared by many routes.
type GuildPath struct {
	Guild string `path:"guild" pattern:"^[0-9]{1,20}$" doc:"Guild id (a Discord snowflake)" example:"1100000000000000001"`
}

type Account struct {
	GuildID        string     `json:"guild_id" example:"1100000000000000001"`
	UserID         string     `json:"user_id" example:"1200000000000000001"`
	Balance        int64      `json:"balance" example:"120"`
	TotalReceived  int64      `json:"total_received" example:"30"`
	TotalSent      int64      `json:"total_sent" example:"10"`
	Streak         int        `json:"streak" doc:"Consecutive UTC days with a daily reward" example:"3"`
	LastDaily      string     `json:"last_daily,omitempty" doc:"UTC day of the last daily reward" example:"2026-05-01"`
	LastTransferAt *time.Time `json:"last_transfer_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
}

func accountOf(a economy.Account) Account {
	out := Account{GuildID: idString(a.GuildID), UserID: idString(a.UserID), Balance: a.Balance, TotalReceived: a.TotalReceived,
		TotalSent: a.TotalSent, Streak: a.Streak, LastDaily: string(a.LastDaily), CreatedAt: a.CreatedAt.UTC()}
	if !a.LastTransferAt.IsZero() {
		t := a.LastTransferAt.UTC()
		out.LastTransferAt = &t
	}
	return out
}

type Entry struct {
	ID               int64     `json:"id" example:"42"`
	UserID           string    `json:"user_id" example:"1200000000000000001"`
	UserName         string    `json:"user_name,omitempty" doc:"The member's name at that moment"`
	Kind             string    `json:"kind" enum:"open,daily,transfer_out,transfer_in,grant,deduct,squad_switch" example:"transfer_out"`
	Delta            int64     `json:"delta" example:"-25"`
	BalanceAfter     int64     `json:"balance_after" example:"95"`
	CounterpartyID   string    `json:"counterparty_id,omitempty" example:"1200000000000000002"`
	CounterpartyName string    `json:"counterparty_name,omitempty"`
	Reason           string    `json:"reason,omitempty" example:"thanks for the review"`
	Day              string    `json:"day,omitempty" doc:"UTC day of a daily reward"`
	ActorID          string    `json:"actor_id,omitempty" doc:"Who made an adjustment"`
	At               time.Time `json:"at"`
}

func entriesOf(es []economy.Entry) []Entry {
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		out = append(out, Entry{ID: e.ID, UserID: idString(e.UserID), UserName: e.UserName, Kind: e.Kind, Delta: e.Delta,
			BalanceAfter: e.BalanceAfter, CounterpartyID: idString(e.CounterpartyID), CounterpartyName: e.CounterpartyName,
			Reason: e.Reason, Day: string(e.Day), ActorID: idString(e.ActorID), At: e.At.UTC()})
	}
	return out
}

type StreakTier struct {
	Days       int    `json:"days" minimum:"1" example:"8"`
	Multiplier int64  `json:"multiplier" minimum:"1" example:"2"`
	Name       string `json:"name" maxLength:"32" example:"CHAR"`
}

type RoleReward struct {
	RoleID    string `json:"role_id" pattern:"^[0-9]{1,20}$" example:"1300000000000000001"`
	Threshold int64  `json:"threshold" minimum:"1" doc:"total_received that earns the role" example:"500"`
}

// ConfigBody is what an admin sets; Config adds the version.
type ConfigBody struct {
	StartingBalance       int64        `json:"starting_balance" minimum:"0" example:"100"`
	DailyAmount           int64        `json:"daily_amount" minimum:"0" example:"10"`
	MaxTransfer           int64        `json:"max_transfer" minimum:"1" example:"1000"`
	TransferCooldownHours int          `json:"transfer_cooldown_hours" minimum:"0" example:"0"`
	StreakTiers           []StreakTier `json:"streak_tiers" nullable:"false" maxItems:"20"`
	SquadMinBalance       int64        `json:"squad_min_balance" minimum:"0" example:"0"`
	RoleRewards           []RoleReward `json:"role_rewards" nullable:"false" maxItems:"50"`
	DailyFeedback         string       `json:"daily_feedback,omitempty" enum:"reaction,reply,none" doc:"How the bot acknowledges a daily reward; default reaction" example:"reaction"`
}

type Config struct {
	ConfigBody
	Version int64 `json:"version" doc:"Incremented on every save; 0 until first saved" example:"3"`
}

func configOf(c economy.Config) Config {
	out := Config{Version: c.Version, ConfigBody: ConfigBody{StartingBalance: c.StartingBalance, DailyAmount: c.DailyAmount,
		MaxTransfer: c.MaxTransfer, TransferCooldownHours: c.TransferCooldownHours, SquadMinBalance: c.SquadMinBalance,
		DailyFeedback: c.DailyFeedback, StreakTiers: []StreakTier{}, RoleRewards: []RoleReward{}}}
	for _, t := range c.StreakTiers {
		out.StreakTiers = append(out.StreakTiers, StreakTier(t))
	}
	for _, r := range c.RoleRewards {
		out.RoleRewards = append(out.RoleRewards, RoleReward{RoleID: idString(r.RoleID), Threshold: r.Threshold})
	}
	return out
}

type Squad struct {
	ID          string    `json:"id" example:"7"`
	GuildID     string    `json:"guild_id" example:"1100000000000000001"`
	Name        string    `json:"name" example:"Gophers"`
	Description string    `json:"description" example:"We write Go."`
	RoleID      string    `json:"role_id" example:"1300000000000000001"`
	SwitchCost  int64     `json:"switch_cost" example:"50"`
	MaxMembers  int       `json:"max_members" doc:"0: no limit" example:"0"`
	Active      bool      `json:"active" example:"true"`
	Members     int       `json:"members" example:"12"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func squadOf(s squads.Squad) Squad {
	return Squad{ID: idString(s.ID), GuildID: idString(s.GuildID), Name: s.Name, Description: s.Description,
		RoleID: idString(s.RoleID), SwitchCost: s.SwitchCost, MaxMembers: s.MaxMembers, Active: s.Active,
		Members: s.Members, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
}

type Membership struct {
	Squad    Squad     `json:"squad"`
	UserID   string    `json:"user_id" example:"1200000000000000001"`
	JoinedAt time.Time `json:"joined_at"`
}

func membershipOf(m squads.Membership) Membership {
	return Membership{Squad: squadOf(m.Squad), UserID: idString(m.UserID), JoinedAt: m.JoinedAt.UTC()}
}

type AuditEntry struct {
	ID      int64     `json:"id" example:"9"`
	ActorID string    `json:"actor_id,omitempty" doc:"The Discord user who made the change; absent for the system or an API key"`
	APIKey  string    `json:"api_key,omitempty" doc:"The prefix of the API key the change was made with; absent for changes not made through the API" example:"3f9a0c12b7e4"`
	Via     string    `json:"via,omitempty" enum:"api,cli" doc:"How a change came about when no Discord user made it: api (with the key in api_key) or cli (smarterdev run on the server); absent otherwise"`
	Action  string    `json:"action" example:"bytes.config.update"`
	Target  string    `json:"target" example:"guild"`
	Before  any       `json:"before" doc:"State before the change (JSON)"`
	After   any       `json:"after" doc:"State after the change (JSON)"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

func auditOf(es []audit.Entry) []AuditEntry {
	out := make([]AuditEntry, 0, len(es))
	for _, e := range es {
		var before, after any
		_ = json.Unmarshal(e.Before, &before)
		_ = json.Unmarshal(e.After, &after)
		out = append(out, AuditEntry{ID: e.ID, ActorID: idString(e.ActorID), Action: e.Action, Target: e.Target,
			APIKey: e.APIKey(), Via: e.Source(), Before: before, After: after, Reason: e.Reason, At: e.At.UTC()})
	}
	return out
}
