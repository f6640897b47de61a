package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
)

type automodData struct {
	Rules    []automod.Rule
	RuleForm *form
	Settings *form
	Try      *form
	Outcomes []automod.Outcome
	Tried    bool
	Rule     *automod.Rule // the one edited or deleted
	Opts     pickOptions
}

// automodPage lists the rules with a new-rule form, the moderation settings
// and the "try it" box.
func (h *Handler) automodPage(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	st, err := h.d.Moderation.Settings(r.Context(), g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := automodData{RuleForm: newForm(ruleValues(newRule())), Settings: newForm(settingsValues(st)), Try: newForm(url.Values{"no_avatar": {"on"}})}
	h.renderAutomod(w, r, g, http.StatusOK, d)
}

func (h *Handler) renderAutomod(w http.ResponseWriter, r *http.Request, g *guildCtx, status int, d automodData) {
	ctx := r.Context()
	rules, err := h.d.Moderation.Rules(ctx, g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Rules = rules
	if d.Settings == nil {
		st, err := h.d.Moderation.Settings(ctx, g.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Settings = newForm(settingsValues(st))
	}
	if d.RuleForm == nil {
		d.RuleForm = newForm(ruleValues(newRule()))
	}
	if d.Try == nil {
		d.Try = newForm(url.Values{"no_avatar": {"on"}})
	}
	d.Opts = h.pickOptions(ctx, g.ID)
	h.render(w, r, status, "automod", &page{Title: "Auto-moderation", Nav: "automod", Guild: g, Data: d})
}

// newRule is the new-rule form's start: a warning, so that a pattern that
// catches more than meant costs nobody their membership before it is tuned.
func newRule() automod.Rule {
	return automod.Rule{Kind: automod.KindUsername, Enabled: true, Action: automod.ActionWarn}
}

// ruleValues is a rule as the form shows it.
func ruleValues(rule automod.Rule) url.Values {
	v := url.Values{}
	v.Set("name", rule.Name)
	v.Set("kind", string(rule.Kind))
	if rule.Enabled {
		v.Set("enabled", "on")
	}
	v.Set("pattern", rule.Pattern)
	if rule.MaxAccountAgeDays > 0 {
		v.Set("max_account_age_days", strconv.Itoa(rule.MaxAccountAgeDays))
	}
	if rule.RequireNoAvatar {
		v.Set("require_no_avatar", "on")
	}
	if rule.Count > 0 {
		v.Set("count", strconv.Itoa(rule.Count))
	}
	if rule.WindowSeconds > 0 {
		v.Set("window_seconds", strconv.Itoa(rule.WindowSeconds))
	}
	v.Set("extensions", strings.Join(rule.Extensions, ", "))
	v.Set("list", "block")
	if rule.AllowList {
		v.Set("list", "allow")
	}
	v.Set("action", string(rule.Action))
	if rule.TimeoutSeconds > 0 {
		v.Set("timeout_seconds", strconv.Itoa(rule.TimeoutSeconds))
	}
	v.Set("reason", rule.Reason)
	if rule.DeleteMessage {
		v.Set("delete_message", "on")
	}
	v.Set("exempt_roles", joinIDs(rule.ExemptRoles))
	v.Set("exempt_channels", joinIDs(rule.ExemptChannels))
	return v
}

// ruleFrom reads a rule from the form; fields of other kinds are ignored.
func ruleFrom(f *form) automod.Rule {
	rule := automod.Rule{
		Name: f.Get("name"), Kind: automod.Kind(f.Get("kind")), Enabled: f.Get("enabled") != "",
		Action: automod.Action(f.Get("action")), Reason: strings.TrimSpace(f.Get("reason")),
		ExemptRoles: f.idList("exempt_roles"), ExemptChannels: f.idList("exempt_channels"),
	}
	switch rule.Kind {
	case automod.KindUsername:
		rule.Pattern = f.Get("pattern")
		rule.MaxAccountAgeDays = int(f.int64Field("max_account_age_days", 0))
		rule.RequireNoAvatar = f.Get("require_no_avatar") != ""
	case automod.KindMessageRate, automod.KindDuplicate, automod.KindChannelSpread:
		rule.Count = int(f.int64Field("count", 0))
		rule.WindowSeconds = int(f.int64Field("window_seconds", 0))
		rule.DeleteMessage = f.Get("delete_message") != ""
	case automod.KindAttachment:
		rule.Extensions = splitList(f.Get("extensions"))
		rule.AllowList = f.Get("list") == "allow"
		rule.DeleteMessage = f.Get("delete_message") != ""
	}
	if rule.Action == automod.ActionTimeout {
		rule.TimeoutSeconds = int(f.int64Field("timeout_seconds", 0))
	}
	return rule
}

var listField = regexp.MustCompile(`^(\w+)\[\d+\]$`)

// ruleFormError shows a refused rule next to its field; false for errors
// that are not the admin's.
func ruleFormError(f *form, err error) bool {
	rename := func(field string) string {
		if m := listField.FindStringSubmatch(field); m != nil {
			return m[1]
		}
		return field
	}
	if f.domain(err, rename) {
		return true
	}
	if c := apperr.CodeOf(err); c == apperr.Conflict || c == apperr.Invalid || c == apperr.Refused {
		f.set("_form", err.Error())
		return true
	}
	return false
}

func (h *Handler) ruleCreate(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	rule := ruleFrom(f)
	if !f.Has() {
		created, err := h.d.Moderation.CreateRule(r.Context(), g.ID, g.UserID, rule)
		if err == nil {
			h.flash(w, r, "Rule “"+created.Name+"” added. Every bot process uses it within a second.")
			http.Redirect(w, r, guildPath(g, "/automod"), http.StatusSeeOther)
			return
		}
		if !ruleFormError(f, err) {
			h.fail(w, r, err)
			return
		}
	}
	h.renderAutomod(w, r, g, http.StatusUnprocessableEntity, automodData{RuleForm: f})
}

func (h *Handler) loadRule(w http.ResponseWriter, r *http.Request, g *guildCtx) (automod.Rule, bool) {
	id, err := strconv.ParseInt(r.PathValue("rule"), 10, 64)
	if err != nil || id <= 0 {
		h.errorPage(w, r, http.StatusNotFound, "There is no such rule.")
		return automod.Rule{}, false
	}
	rule, err := h.d.Moderation.Rule(r.Context(), g.ID, id)
	if apperr.Is(err, apperr.NotFound) {
		h.errorPage(w, r, http.StatusNotFound, "There is no such rule in this guild.")
		return automod.Rule{}, false
	}
	if err != nil {
		h.fail(w, r, err)
		return automod.Rule{}, false
	}
	return rule, true
}

func (h *Handler) ruleEdit(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	rule, ok := h.loadRule(w, r, g)
	if !ok {
		return
	}
	d := automodData{RuleForm: newForm(ruleValues(rule)), Rule: &rule, Opts: h.pickOptions(r.Context(), g.ID)}
	h.render(w, r, http.StatusOK, "automod_rule", &page{Title: "Edit " + rule.Name, Nav: "automod", Guild: g, Data: d})
}

func (h *Handler) ruleUpdate(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	rule, ok := h.loadRule(w, r, g)
	if !ok {
		return
	}
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	next := ruleFrom(f)
	if !f.Has() {
		saved, err := h.d.Moderation.UpdateRule(r.Context(), g.ID, g.UserID, rule.ID, next)
		if err == nil {
			h.flash(w, r, "Rule “"+saved.Name+"” saved.")
			http.Redirect(w, r, guildPath(g, "/automod"), http.StatusSeeOther)
			return
		}
		if !ruleFormError(f, err) {
			h.fail(w, r, err)
			return
		}
	}
	d := automodData{RuleForm: f, Rule: &rule, Opts: h.pickOptions(r.Context(), g.ID)}
	h.render(w, r, http.StatusUnprocessableEntity, "automod_rule", &page{Title: "Edit " + rule.Name, Nav: "automod", Guild: g, Data: d})
}

func (h *Handler) ruleDeleteConfirm(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	rule, ok := h.loadRule(w, r, g)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "automod_delete", &page{Title: "Delete " + rule.Name, Nav: "automod", Guild: g, Data: automodData{Rule: &rule}})
}

func (h *Handler) ruleDelete(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	rule, ok := h.loadRule(w, r, g)
	if !ok {
		return
	}
	if err := h.d.Moderation.DeleteRule(r.Context(), g.ID, g.UserID, rule.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
		h.fail(w, r, err)
		return
	}
	h.flash(w, r, "Rule “"+rule.Name+"” deleted.")
	http.Redirect(w, r, guildPath(g, "/automod"), http.StatusSeeOther)
}

// settingsValues are moderation settings as the form shows them.
func settingsValues(st automod.Settings) url.Values {
	v := url.Values{}
	if st.ModLogChannel > 0 {
		v.Set("mod_log_channel", strconv.FormatInt(st.ModLogChannel, 10))
	}
	v.Set("exempt_roles", joinIDs(st.ExemptRoles))
	v.Set("exempt_channels", joinIDs(st.ExemptChannels))
	if st.ModeratorsExempt {
		v.Set("moderators_exempt", "on")
	}
	if st.EscalateAfter > 0 {
		v.Set("escalate_after", strconv.Itoa(st.EscalateAfter))
		v.Set("escalate_window_hours", strconv.Itoa(st.EscalateWindowHours))
	}
	v.Set("escalate_action", string(st.EscalateAction))
	if st.EscalateTimeoutSeconds > 0 {
		v.Set("escalate_timeout_seconds", strconv.Itoa(st.EscalateTimeoutSeconds))
	}
	return v
}

func (h *Handler) settingsSave(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	st := automod.Settings{
		ModLogChannel: f.idField("mod_log_channel"), ExemptRoles: f.idList("exempt_roles"), ExemptChannels: f.idList("exempt_channels"),
		ModeratorsExempt: f.Get("moderators_exempt") != "",
		EscalateAfter:    int(f.int64Field("escalate_after", 0)), EscalateWindowHours: int(f.int64Field("escalate_window_hours", 0)),
		EscalateAction: automod.Action(f.Get("escalate_action")),
	}
	if st.EscalateAction == automod.ActionTimeout {
		st.EscalateTimeoutSeconds = int(f.int64Field("escalate_timeout_seconds", 0))
	}
	if st.EscalateAfter == 0 {
		st.EscalateWindowHours, st.EscalateAction, st.EscalateTimeoutSeconds = 0, "", 0
	}
	if st.ModLogChannel > 0 {
		if msg := h.dir.ModLogProblem(r.Context(), g.ID, st.ModLogChannel); msg != "" {
			f.set("mod_log_channel", msg)
		}
	}
	if !f.Has() {
		_, err := h.d.Moderation.UpdateSettings(r.Context(), g.ID, g.UserID, st)
		if err == nil {
			h.flash(w, r, "Moderation settings saved.")
			http.Redirect(w, r, guildPath(g, "/automod")+"#settings", http.StatusSeeOther)
			return
		}
		if !ruleFormError(f, err) {
			h.fail(w, r, err)
			return
		}
	}
	h.renderAutomod(w, r, g, http.StatusUnprocessableEntity, automodData{Settings: f})
}

// automodTry shows what a sample would trigger: the whole page for a plain
// form post, only the results for htmx.
func (h *Handler) automodTry(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	s := automod.Sample{Username: f.Get("username"), Message: f.Get("message"), Filename: strings.TrimSpace(f.Get("filename"))}
	if strings.TrimSpace(f.Get("account_age_days")) != "" {
		age := int(f.int64Field("account_age_days", 0))
		if age < 0 {
			f.set("account_age_days", "Enter 0 or more days.")
		}
		s.AccountAgeDays = &age
	}
	noAvatar := f.Get("no_avatar") != ""
	s.NoAvatar = &noAvatar
	if s.Username == "" && s.Message == "" && s.Filename == "" {
		f.set("_form", "Type a username, a message or a file name to try.")
	}
	d := automodData{Try: f, Tried: true}
	status := http.StatusOK
	if f.Has() {
		status = http.StatusUnprocessableEntity
	} else {
		out, err := h.d.Moderation.Try(r.Context(), g.ID, s)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Outcomes = out
	}
	if r.Header.Get("HX-Request") == "true" && status != http.StatusOK {
		status = http.StatusOK // htmx swaps only 2xx answers; the errors are in the fragment
	}
	h.renderAutomod(w, r, g, status, d)
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}
