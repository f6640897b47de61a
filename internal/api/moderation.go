package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

// moderationRoutes are the automod rules, the try-it box and the cases.
func (s *server) moderationRoutes() {
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "list-automod-rules", Method: http.MethodGet, Path: v1 + "/automod/rules", Tags: []string{"moderation"},
		Summary: "List the guild's automod rules", Description: "Every rule, enabled or not, oldest first.",
	}}, s.listRules)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "create-automod-rule", Method: http.MethodPost, Path: v1 + "/automod/rules", Tags: []string{"moderation"}, DefaultStatus: http.StatusCreated,
		Summary:     "Create an automod rule",
		Description: "Validated before it is saved: a pattern that is not valid RE2, or too complex, is a 422 that says what is wrong. Every bot process applies the change within a second. Recorded in the audit log.",
	}}, s.createRule)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-automod-rule", Method: http.MethodGet, Path: v1 + "/automod/rules/{rule}", Tags: []string{"moderation"},
		Summary: "Read one automod rule", Errors: []int{http.StatusNotFound},
	}}, s.getRule)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "put-automod-rule", Method: http.MethodPut, Path: v1 + "/automod/rules/{rule}", Tags: []string{"moderation"},
		Summary: "Replace an automod rule", Description: "Validated like a new rule.", Errors: []int{http.StatusNotFound},
	}}, s.putRule)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "delete-automod-rule", Method: http.MethodDelete, Path: v1 + "/automod/rules/{rule}", Tags: []string{"moderation"},
		Summary: "Delete an automod rule", Errors: []int{http.StatusNotFound},
	}}, s.deleteRule)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "try-automod", Method: http.MethodPost, Path: v1 + "/automod/try", Tags: []string{"moderation"},
		Summary:     "What would a sample trigger?",
		Description: "Runs the guild's enabled rules on a sample username (as a day-old account without an avatar unless said otherwise), message (sent as often as each windowed rule counts) or file name. Changes nothing.",
	}}, s.tryRules)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-moderation-settings", Method: http.MethodGet, Path: v1 + "/automod/settings", Tags: []string{"moderation", "config"},
		Summary:     "Read the guild's moderation settings",
		Description: "The mod-log channel, who every rule leaves alone, and warning escalation. A guild that never saved any has the defaults: moderators exempt, no mod-log, no escalation.",
	}}, s.getModSettings)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "put-moderation-settings", Method: http.MethodPut, Path: v1 + "/automod/settings", Tags: []string{"moderation", "config"},
		Summary:     "Replace the guild's moderation settings",
		Description: "When the server can reach Discord, a mod-log channel the bot cannot post in (not in the guild, or not a text or announcement channel) is a 422 on `body.mod_log_channel`. Every bot process applies the change within a second. Recorded in the audit log, with the key that made it.",
	}}, s.putModSettings)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "list-cases", Method: http.MethodGet, Path: v1 + "/cases", Tags: []string{"moderation"},
		Summary:     "List moderation cases, newest first",
		Description: "Every action, automatic or by a moderator, is a numbered case. Filter by member, action, rule name and state; cursor-paginated.",
	}}, s.listCases)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-case", Method: http.MethodGet, Path: v1 + "/cases/{number}", Tags: []string{"moderation"},
		Summary: "Read one case by number", Errors: []int{http.StatusNotFound},
	}}, s.getCase)
	register(s, op{scope: apikeys.Write, Operation: huma.Operation{
		OperationID: "resolve-case", Method: http.MethodPost, Path: v1 + "/cases/{number}/resolve", Tags: []string{"moderation"},
		Summary:     "Close an open case",
		Description: "With `reverse`, the case is closed as reversed and a ban or timeout is also lifted on Discord (by the bot, retried until Discord answers). A case already closed is a 409. Recorded in the audit log, with the key that made it.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}}, s.resolveCase)
}

// ModerationSettings are a guild's moderation settings as the API shows them.
type ModerationSettings struct {
	ModLogChannel          string   `json:"mod_log_channel,omitempty" pattern:"^[0-9]{1,20}$" doc:"Where the bot posts every case; absent: nowhere" example:"1200000000000000005"`
	ExemptRoles            []string `json:"exempt_roles" nullable:"false" required:"false" maxItems:"100" doc:"Members with any of these roles are left alone by every rule"`
	ExemptChannels         []string `json:"exempt_channels" nullable:"false" required:"false" maxItems:"100" doc:"Messages in these channels are left alone by every rule"`
	ModeratorsExempt       bool     `json:"moderators_exempt" doc:"Members who can moderate (Manage Messages, Kick, Ban, Administrator) are left alone" example:"true"`
	EscalateAfter          int      `json:"escalate_after" required:"false" minimum:"0" maximum:"50" doc:"This many warnings within the window open a case with escalate_action; 0: no escalation" example:"3"`
	EscalateWindowHours    int      `json:"escalate_window_hours,omitempty" minimum:"0" example:"24"`
	EscalateAction         string   `json:"escalate_action,omitempty" enum:"timeout,kick,ban" example:"timeout"`
	EscalateTimeoutSeconds int      `json:"escalate_timeout_seconds,omitempty" minimum:"0" example:"3600"`
	Version                int64    `json:"version" readOnly:"true" doc:"Counts saves; 0: never saved" example:"4"`
}

func modSettingsOf(st automod.Settings) ModerationSettings {
	return ModerationSettings{ModLogChannel: idString(st.ModLogChannel), ExemptRoles: idStrings(st.ExemptRoles), ExemptChannels: idStrings(st.ExemptChannels),
		ModeratorsExempt: st.ModeratorsExempt, EscalateAfter: st.EscalateAfter, EscalateWindowHours: st.EscalateWindowHours,
		EscalateAction: string(st.EscalateAction), EscalateTimeoutSeconds: st.EscalateTimeoutSeconds, Version: st.Version}
}

func idStrings(ids []int64) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, idString(id))
	}
	return out
}

// snowflakes parses a list of ids, naming the element that is wrong.
func snowflakes(field string, vs []string) ([]int64, error) {
	out := make([]int64, 0, len(vs))
	for i, v := range vs {
		id, err := snowflake(fmt.Sprintf("%s[%d]", field, i), v)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func (m ModerationSettings) domain() (automod.Settings, error) {
	st := automod.Settings{ModeratorsExempt: m.ModeratorsExempt, EscalateAfter: m.EscalateAfter, EscalateWindowHours: m.EscalateWindowHours,
		EscalateAction: automod.Action(m.EscalateAction), EscalateTimeoutSeconds: m.EscalateTimeoutSeconds}
	var err error
	if st.ModLogChannel, err = optionalSnowflake("mod_log_channel", m.ModLogChannel); err != nil {
		return st, err
	}
	if st.ExemptRoles, err = snowflakes("exempt_roles", m.ExemptRoles); err != nil {
		return st, err
	}
	st.ExemptChannels, err = snowflakes("exempt_channels", m.ExemptChannels)
	return st, err
}

type modSettingsOutput struct{ Body ModerationSettings }

func (s *server) getModSettings(ctx context.Context, in *GuildPath) (*modSettingsOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	st, err := s.Moderation.Settings(ctx, guild)
	if err != nil {
		return nil, err
	}
	return &modSettingsOutput{Body: modSettingsOf(st)}, nil
}

type putModSettingsInput struct {
	GuildPath
	Body ModerationSettings
}

func (s *server) putModSettings(ctx context.Context, in *putModSettingsInput) (*modSettingsOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	st, err := in.Body.domain()
	if err != nil {
		return nil, err
	}
	if st.ModLogChannel > 0 && s.Discord != nil {
		if msg := s.Discord.ModLogProblem(ctx, guild, st.ModLogChannel); msg != "" {
			return nil, apperr.InvalidField("mod_log_channel", "%s", msg)
		}
	}
	saved, err := s.Moderation.UpdateSettings(ctx, guild, 0, st)
	if err != nil {
		return nil, err
	}
	return &modSettingsOutput{Body: modSettingsOf(saved)}, nil
}

type resolveCaseInput struct {
	CasePath
	Body struct {
		Note    string `json:"note,omitempty" maxLength:"500" doc:"Why it is closed; shown on the case and in the audit log" example:"appealed; first offence"`
		Reverse bool   `json:"reverse,omitempty" doc:"Also undo the action: lift a ban or a timeout"`
	}
}

func (s *server) resolveCase(ctx context.Context, in *resolveCaseInput) (*caseOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	c, err := s.Moderation.Resolve(ctx, guild, in.Number, 0, in.Body.Note, in.Body.Reverse)
	if err != nil {
		return nil, err
	}
	return &caseOutput{Body: caseOf(c)}, nil
}

// Rule is an automod rule as the API shows it (ids as strings).
type Rule struct {
	ID                string   `json:"id,omitempty" readOnly:"true" example:"3"`
	Name              string   `json:"name" minLength:"1" maxLength:"100" example:"Raid names"`
	Kind              string   `json:"kind" enum:"username,message_rate,duplicate,channel_spread,attachment" example:"username"`
	Enabled           bool     `json:"enabled" example:"true"`
	Pattern           string   `json:"pattern,omitempty" maxLength:"512" doc:"username rules: an RE2 pattern, matched case-insensitively on the username and display name (also with look-alike letters folded)" example:"^raider\\d+$"`
	MaxAccountAgeDays int      `json:"max_account_age_days,omitempty" minimum:"0" doc:"username rules: only accounts younger than this many days; 0: any age" example:"7"`
	RequireNoAvatar   bool     `json:"require_no_avatar,omitempty" doc:"username rules: only accounts without a custom avatar"`
	Count             int      `json:"count,omitempty" minimum:"0" doc:"message rules: how many messages (or copies, or channels) within the window trigger it" example:"5"`
	WindowSeconds     int      `json:"window_seconds,omitempty" minimum:"0" example:"10"`
	Extensions        []string `json:"extensions,omitempty" doc:"attachment rules: file extensions without the dot" example:"[\"exe\",\"scr\"]"`
	AllowList         bool     `json:"allow_list,omitempty" doc:"attachment rules: true allows only the listed extensions; false blocks them"`
	Action            string   `json:"action" enum:"delete,warn,timeout,kick,ban" example:"ban"`
	TimeoutSeconds    int      `json:"timeout_seconds,omitempty" minimum:"0" example:"600"`
	Reason            string   `json:"reason,omitempty" maxLength:"200" example:"Raid account"`
	DeleteMessage     bool     `json:"delete_message,omitempty" doc:"message rules: also delete the message that triggered it"`
	ExemptRoles       []string `json:"exempt_roles,omitempty"`
	ExemptChannels    []string `json:"exempt_channels,omitempty"`
}

func ruleOf(r automod.Rule) Rule {
	out := Rule{ID: idString(r.ID), Name: r.Name, Kind: string(r.Kind), Enabled: r.Enabled, Pattern: r.Pattern,
		MaxAccountAgeDays: r.MaxAccountAgeDays, RequireNoAvatar: r.RequireNoAvatar, Count: r.Count, WindowSeconds: r.WindowSeconds,
		Extensions: r.Extensions, AllowList: r.AllowList, Action: string(r.Action), TimeoutSeconds: r.TimeoutSeconds,
		Reason: r.Reason, DeleteMessage: r.DeleteMessage}
	if len(r.ExemptRoles) > 0 {
		out.ExemptRoles = idStrings(r.ExemptRoles)
	}
	if len(r.ExemptChannels) > 0 {
		out.ExemptChannels = idStrings(r.ExemptChannels)
	}
	return out
}

func (r Rule) domain() (automod.Rule, error) {
	out := automod.Rule{Name: r.Name, Kind: automod.Kind(r.Kind), Enabled: r.Enabled, Pattern: r.Pattern,
		MaxAccountAgeDays: r.MaxAccountAgeDays, RequireNoAvatar: r.RequireNoAvatar, Count: r.Count, WindowSeconds: r.WindowSeconds,
		Extensions: append([]string{}, r.Extensions...), AllowList: r.AllowList, Action: automod.Action(r.Action),
		TimeoutSeconds: r.TimeoutSeconds, Reason: r.Reason, DeleteMessage: r.DeleteMessage}
	var err error
	if out.ExemptRoles, err = snowflakes("exempt_roles", r.ExemptRoles); err != nil {
		return out, err
	}
	out.ExemptChannels, err = snowflakes("exempt_channels", r.ExemptChannels)
	return out, err
}

type RulePath struct {
	GuildPath
	Rule string `path:"rule" pattern:"^[0-9]{1,20}$" doc:"Rule id" example:"3"`
}

type ruleOutput struct {
	Status   int    // huma writes it as is: 201 for a new rule, else 200
	Location string `header:"Location"`
	Body     Rule
}

type ruleListOutput struct {
	Body struct {
		Items []Rule `json:"items" nullable:"false"`
	}
}

func (s *server) listRules(ctx context.Context, in *GuildPath) (*ruleListOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	rules, err := s.Moderation.Rules(ctx, guild)
	if err != nil {
		return nil, err
	}
	out := &ruleListOutput{}
	out.Body.Items = make([]Rule, 0, len(rules))
	for _, r := range rules {
		out.Body.Items = append(out.Body.Items, ruleOf(r))
	}
	return out, nil
}

type ruleBodyInput struct {
	GuildPath
	Body Rule
}

func (s *server) createRule(ctx context.Context, in *ruleBodyInput) (*ruleOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	r, err := in.Body.domain()
	if err != nil {
		return nil, err
	}
	saved, err := s.Moderation.CreateRule(ctx, guild, 0, r)
	if err != nil {
		return nil, err
	}
	out := ruleOf(saved)
	return &ruleOutput{Status: http.StatusCreated, Location: "/api/v1/guilds/" + in.Guild + "/automod/rules/" + out.ID, Body: out}, nil
}

func (p RulePath) ids() (guild, rule int64, err error) {
	if guild, err = snowflake("guild", p.Guild); err != nil {
		return 0, 0, err
	}
	rule, err = snowflake("rule", p.Rule)
	return guild, rule, err
}

func (s *server) getRule(ctx context.Context, in *RulePath) (*ruleOutput, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	r, err := s.Moderation.Rule(ctx, guild, id)
	if err != nil {
		return nil, err
	}
	return &ruleOutput{Status: http.StatusOK, Body: ruleOf(r)}, nil
}

type putRuleInput struct {
	RulePath
	Body Rule
}

func (s *server) putRule(ctx context.Context, in *putRuleInput) (*ruleOutput, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	r, err := in.Body.domain()
	if err != nil {
		return nil, err
	}
	saved, err := s.Moderation.UpdateRule(ctx, guild, 0, id, r)
	if err != nil {
		return nil, err
	}
	return &ruleOutput{Status: http.StatusOK, Body: ruleOf(saved)}, nil
}

func (s *server) deleteRule(ctx context.Context, in *RulePath) (*struct{}, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	return &struct{}{}, s.Moderation.DeleteRule(ctx, guild, 0, id)
}

type tryInput struct {
	GuildPath
	Body struct {
		Username       string `json:"username,omitempty" maxLength:"100" example:"raider42"`
		Message        string `json:"message,omitempty" maxLength:"4000" example:"free nitro here"`
		Filename       string `json:"filename,omitempty" maxLength:"260" example:"invoice.pdf.exe"`
		AccountAgeDays *int   `json:"account_age_days,omitempty" minimum:"0" doc:"the sample account's age; default 1"`
		NoAvatar       *bool  `json:"no_avatar,omitempty" doc:"whether the sample account lacks an avatar; default true"`
	}
}

// Outcome is what one rule would do with the sample.
type Outcome struct {
	Rule      Rule   `json:"rule"`
	Triggered bool   `json:"triggered"`
	Action    string `json:"action,omitempty"`
	Why       string `json:"why" example:"name \"raider42\" matches \"^raider\\d+$\""`
}

type tryOutput struct {
	Body struct {
		Outcomes []Outcome `json:"outcomes" nullable:"false"`
	}
}

func (s *server) tryRules(ctx context.Context, in *tryInput) (*tryOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	b := in.Body
	res, err := s.Moderation.Try(ctx, guild, automod.Sample{Username: b.Username, Message: b.Message, Filename: b.Filename,
		AccountAgeDays: b.AccountAgeDays, NoAvatar: b.NoAvatar})
	if err != nil {
		return nil, err
	}
	out := &tryOutput{}
	out.Body.Outcomes = make([]Outcome, 0, len(res))
	for _, o := range res {
		out.Body.Outcomes = append(out.Body.Outcomes, Outcome{Rule: ruleOf(o.Rule), Triggered: o.Triggered, Action: string(o.Action), Why: o.Why})
	}
	return out, nil
}

// Case is a moderation case as the API shows it.
type Case struct {
	Number          int64     `json:"number" example:"12"`
	TargetID        string    `json:"target_id" example:"1200000000000000001"`
	TargetName      string    `json:"target_name,omitempty"`
	ModeratorID     string    `json:"moderator_id" doc:"\"0\": the bot" example:"0"`
	Action          string    `json:"action" example:"timeout"`
	RuleID          string    `json:"rule_id,omitempty"`
	RuleName        string    `json:"rule_name,omitempty" example:"spam"`
	RuleKind        string    `json:"rule_kind,omitempty" example:"message_rate"`
	Reason          string    `json:"reason" example:"spam: 5 messages within 10s"`
	DurationSeconds int64     `json:"duration_seconds,omitempty" example:"600"`
	ChannelID       string    `json:"channel_id,omitempty"`
	MessageID       string    `json:"message_id,omitempty"`
	State           string    `json:"state" enum:"open,resolved,reversed" example:"open"`
	ResolvedBy      string    `json:"resolved_by,omitempty"`
	ResolvedAt      time.Time `json:"resolved_at,omitzero"`
	Note            string    `json:"note,omitempty"`
	At              time.Time `json:"at"`
}

func caseOf(c moderation.Case) Case {
	opt := func(id int64) string {
		if id == 0 {
			return ""
		}
		return idString(id)
	}
	return Case{Number: c.Number, TargetID: idString(c.TargetID), TargetName: c.TargetName, ModeratorID: strconv.FormatInt(c.ModeratorID, 10),
		Action: string(c.Action), RuleID: opt(c.RuleID), RuleName: c.RuleName, RuleKind: string(c.RuleKind), Reason: c.Reason,
		DurationSeconds: c.Duration, ChannelID: opt(c.ChannelID), MessageID: opt(c.MessageID), State: c.State,
		ResolvedBy: opt(c.ResolvedBy), ResolvedAt: c.ResolvedAt, Note: c.Note, At: c.At}
}

type listCasesInput struct {
	GuildPath
	User   string `query:"user" pattern:"^[0-9]{1,20}$" doc:"Only cases about this member"`
	Action string `query:"action" enum:"warn,timeout,kick,ban,unban,untimeout,delete" doc:"Only this action"`
	Rule   string `query:"rule" maxLength:"100" doc:"Only cases of the automod rule with this name"`
	State  string `query:"state" enum:"open,resolved,reversed" doc:"Only cases in this state"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"25"`
}

type caseListOutput struct {
	Body struct {
		Items      []Case `json:"items" nullable:"false"`
		NextCursor string `json:"next_cursor,omitempty"`
	}
}

func (s *server) listCases(ctx context.Context, in *listCasesInput) (*caseListOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	f := moderation.Filter{Action: in.Action, Rule: in.Rule, State: in.State, Limit: in.Limit}
	if in.User != "" {
		if f.TargetID, err = snowflake("user", in.User); err != nil {
			return nil, err
		}
	}
	if in.Cursor != "" {
		if f.Before, err = decodeCursor(in.Cursor); err != nil {
			return nil, err
		}
	}
	list, err := s.Moderation.Cases(ctx, guild, f)
	if err != nil {
		return nil, err
	}
	out := &caseListOutput{}
	out.Body.Items = make([]Case, 0, len(list))
	for _, c := range list {
		out.Body.Items = append(out.Body.Items, caseOf(c))
	}
	if len(list) == f.Limit && f.Limit > 0 {
		out.Body.NextCursor = encodeCursor(list[len(list)-1].Number)
	}
	return out, nil
}

// CasePath is exported: huma fills embedded path parameters only through
// exported fields.
type CasePath struct {
	GuildPath
	Number int64 `path:"number" minimum:"1" doc:"Case number" example:"12"`
}

type caseOutput struct{ Body Case }

func (s *server) getCase(ctx context.Context, in *CasePath) (*caseOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	c, err := s.Moderation.Case(ctx, guild, in.Number)
	if err != nil {
		return nil, err
	}
	return &caseOutput{Body: caseOf(c)}, nil
}
