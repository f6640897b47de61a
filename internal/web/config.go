package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/economy"
)

// Blank rows offered below the configured ones.
const spareRows = 2

type tierRow struct{ I int }
type rewardRow struct{ I int }

type configData struct {
	Form    *form
	Tiers   []tierRow
	Rewards []rewardRow
	Roles   []discordapi.Role
	Version int64
}

func (h *Handler) configPage(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	cfg, err := h.d.Economy.Config(r.Context(), g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderConfig(w, r, g, http.StatusOK, newForm(configValues(cfg)), cfg.Version)
}

func (h *Handler) renderConfig(w http.ResponseWriter, r *http.Request, g *guildCtx, status int, f *form, version int64) {
	nt, _ := strconv.Atoi(f.Get("tier_rows"))
	nr, _ := strconv.Atoi(f.Get("reward_rows"))
	var chosen []string
	for i := range min(nr, economy.MaxRoleRewards) {
		chosen = append(chosen, f.Get(fmt.Sprintf("reward_role_%d", i)))
	}
	d := configData{Form: f, Roles: grantableRoles(h.dir.Roles(r.Context(), g.ID), chosen...), Version: version}
	for i := range min(nt, economy.MaxTiers) {
		d.Tiers = append(d.Tiers, tierRow{I: i})
	}
	for i := range min(nr, economy.MaxRoleRewards) {
		d.Rewards = append(d.Rewards, rewardRow{I: i})
	}
	h.render(w, r, status, "config", &page{Title: "Bytes configuration", Nav: "config", Guild: g, Data: d})
}

// configValues is a configuration as the form shows it, with spare rows.
func configValues(c economy.Config) url.Values {
	v := url.Values{}
	set := func(k string, n int64) { v.Set(k, strconv.FormatInt(n, 10)) }
	set("starting_balance", c.StartingBalance)
	set("daily_amount", c.DailyAmount)
	set("max_transfer", c.MaxTransfer)
	set("transfer_cooldown_hours", int64(c.TransferCooldownHours))
	set("squad_min_balance", c.SquadMinBalance)
	v.Set("daily_feedback", c.DailyFeedback)
	for i, t := range c.StreakTiers {
		set(fmt.Sprintf("tier_days_%d", i), int64(t.Days))
		set(fmt.Sprintf("tier_multiplier_%d", i), t.Multiplier)
		v.Set(fmt.Sprintf("tier_name_%d", i), t.Name)
	}
	for i, rr := range c.RoleRewards {
		set(fmt.Sprintf("reward_role_%d", i), rr.RoleID)
		set(fmt.Sprintf("reward_threshold_%d", i), rr.Threshold)
	}
	v.Set("tier_rows", strconv.Itoa(min(len(c.StreakTiers)+spareRows, economy.MaxTiers)))
	v.Set("reward_rows", strconv.Itoa(min(len(c.RoleRewards)+spareRows, economy.MaxRoleRewards)))
	return v
}

var indexed = regexp.MustCompile(`^(streak_tiers|role_rewards)\[(\d+)\]\.(\w+)$`)

func (h *Handler) configSave(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := newForm(r.PostForm)
	cur, err := h.d.Economy.Config(r.Context(), g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cfg := economy.Config{
		StartingBalance:       f.int64Field("starting_balance", 0),
		DailyAmount:           f.int64Field("daily_amount", 0),
		MaxTransfer:           f.int64Field("max_transfer", 0),
		TransferCooldownHours: int(f.int64Field("transfer_cooldown_hours", 0)),
		SquadMinBalance:       f.int64Field("squad_min_balance", 0),
		DailyFeedback:         f.Get("daily_feedback"),
	}
	nt, _ := strconv.Atoi(f.Get("tier_rows"))
	nr, _ := strconv.Atoi(f.Get("reward_rows"))
	nt, nr = min(max(nt, 0), economy.MaxTiers), min(max(nr, 0), economy.MaxRoleRewards)
	var tierAt, rewardAt []int // slice index -> form row
	for i := range nt {
		days, mult, name := fmt.Sprintf("tier_days_%d", i), fmt.Sprintf("tier_multiplier_%d", i), fmt.Sprintf("tier_name_%d", i)
		if strings.TrimSpace(f.Get(days)+f.Get(mult)+f.Get(name)) == "" {
			continue // a blank row
		}
		t := economy.StreakTier{Days: int(f.int64Field(days, 0)), Multiplier: f.int64Field(mult, 0), Name: f.Get(name)}
		cfg.StreakTiers = append(cfg.StreakTiers, t)
		tierAt = append(tierAt, i)
	}
	for i := range nr {
		role, thr := fmt.Sprintf("reward_role_%d", i), fmt.Sprintf("reward_threshold_%d", i)
		if strings.TrimSpace(f.Get(role)+f.Get(thr)) == "" {
			continue
		}
		cfg.RoleRewards = append(cfg.RoleRewards, economy.RoleReward{RoleID: f.idField(role), Threshold: f.int64Field(thr, 0)})
		rewardAt = append(rewardAt, i)
	}
	// Keep what the admin typed, plus a spare row if they filled every one.
	if len(tierAt) == nt && nt < economy.MaxTiers {
		f.Values.Set("tier_rows", strconv.Itoa(nt+1))
	}
	if len(rewardAt) == nr && nr < economy.MaxRoleRewards {
		f.Values.Set("reward_rows", strconv.Itoa(nr+1))
	}
	rename := func(field string) string {
		m := indexed.FindStringSubmatch(field)
		if m == nil {
			return field
		}
		i, _ := strconv.Atoi(m[2])
		switch {
		case m[1] == "streak_tiers" && i < len(tierAt):
			return fmt.Sprintf("tier_%s_%d", m[3], tierAt[i])
		case m[1] == "role_rewards" && i < len(rewardAt):
			name := m[3]
			if name == "role_id" {
				name = "role"
			}
			return fmt.Sprintf("reward_%s_%d", name, rewardAt[i])
		}
		return field
	}
	// Say everything that is wrong in one answer: a field that did not parse
	// keeps that message, every other field gets the rule it breaks.
	for _, err := range cfg.Problems() {
		f.domain(err, rename)
	}
	// A reward role goes to everyone who reaches its threshold: never a
	// staff role (bytes must not buy moderation), nor one Discord will not
	// let the bot give.
	for j, rr := range cfg.RoleRewards {
		if field := fmt.Sprintf("reward_role_%d", rewardAt[j]); f.Err(field) == "" {
			if msg := h.dir.RewardRoleProblem(r.Context(), g.ID, rr.RoleID); msg != "" {
				f.set(field, msg)
			}
		}
	}
	if f.Has() {
		h.renderConfig(w, r, g, http.StatusUnprocessableEntity, f, cur.Version)
		return
	}
	saved, err := h.d.Economy.UpdateConfig(r.Context(), g.ID, g.UserID, cfg)
	if err != nil {
		if f.domain(err, rename) {
			h.renderConfig(w, r, g, http.StatusUnprocessableEntity, f, cur.Version)
			return
		}
		if apperr.CodeOf(err) != apperr.Internal {
			f.set("_form", err.Error())
			h.renderConfig(w, r, g, http.StatusUnprocessableEntity, f, cur.Version)
			return
		}
		h.fail(w, r, err)
		return
	}
	if saved.Version == cur.Version {
		h.flash(w, r, "Nothing changed: the configuration is as it was.")
	} else {
		h.flash(w, r, "Configuration saved. Every process uses it within a second.")
	}
	http.Redirect(w, r, "/guilds/"+strconv.FormatInt(g.ID, 10)+"/config", http.StatusSeeOther)
}
