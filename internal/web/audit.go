package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/discordapi"
)

const auditPerPage = 30

type change struct {
	Path    string // the JSON path, e.g. role_rewards[0].threshold
	Label   string // the path in words, e.g. "Role rewards 1 › Threshold"
	Before  string // "" with Added
	After   string // "" with Removed
	Added   bool
	Removed bool
}

type auditRow struct {
	ID         int64
	At         time.Time
	Actor      discordapi.Profile
	ActorID    int64
	System     bool   // no one: the bot or a scheduled job
	APIKey     string // the prefix of the API key that made the change
	CLI        bool   // made by running smarterdev on the server
	KeyName    string // that key's name
	Action     string
	Title      string // the action in words
	Subject    string // what was changed, in words; "" for the guild itself
	SubjectURL string // its dashboard page, when it has one
	Reason     string
	Changes    []change
}

type auditData struct {
	Rows     []auditRow
	Areas    []auditArea
	Area     string
	Actor    int64
	ActorArg discordapi.Profile // the actor filtered on
	APIKey   string             // the API key filtered on (its prefix)
	KeyName  string
	Filtered bool
	// Links with the filter: the newest page, the next one ("" on the last)
	// and the CSV download. Whole paths, built here: html/template escapes
	// "=" and "&" in a query it is given to interpolate.
	First, Next, CSV string
	Paged            bool
}

type auditArea struct{ Value, Label string }

// auditAreaLabels name audit.Areas for the filter, in the navigation's words.
var auditAreaLabels = map[string]string{
	"bytes": "Bytes (settings and adjustments)", "squads": "Squads", "automod": "Auto-moderation rules",
	"moderation": "Moderation settings", "cases": "Cases", "apikeys": "API keys",
}

// auditTitles say what each audited action did.
var auditTitles = map[string]string{
	"bytes.config.update": "Bytes settings changed", "bytes.grant": "Bytes granted", "bytes.deduct": "Bytes deducted",
	"squads.create": "Squad created", "squads.update": "Squad changed", "squads.delete": "Squad deleted",
	"automod.rule.create": "Auto-moderation rule added", "automod.rule.update": "Auto-moderation rule changed",
	"automod.rule.delete": "Auto-moderation rule deleted", "moderation.settings.update": "Moderation settings changed",
	"apikeys.create": "API key created", "apikeys.revoke": "API key revoked", "apikeys.rotate": "API key rotated",
}

func auditTitle(action string) string {
	if t, ok := auditTitles[action]; ok {
		return t
	}
	if state, ok := strings.CutPrefix(action, "cases."); ok {
		return "Case " + state
	}
	return action
}

// auditFilter reads the log's filters from a query (the area is checked by
// audit.List); msg says what is wrong with one.
func auditFilter(q url.Values) (f audit.Filter, msg string) {
	f.Area = q.Get("area")
	if s := q.Get("actor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return f, "The actor must be a Discord user id."
		}
		f.Actor = n
	}
	if f.APIKey = q.Get("api_key"); f.APIKey != "" && !apikeys.IsPrefix(f.APIKey) {
		return f, "The API key must be given by its prefix: 12 characters 0-9 and a-f."
	}
	return f, ""
}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	ctx := r.Context()
	q := r.URL.Query()
	d := auditData{}
	for _, a := range audit.Areas {
		d.Areas = append(d.Areas, auditArea{Value: a, Label: auditAreaLabels[a]})
	}
	f, msg := auditFilter(q)
	if msg != "" {
		h.errorPage(w, r, http.StatusBadRequest, msg)
		return
	}
	d.Area, d.Actor, d.APIKey = f.Area, f.Actor, f.APIKey
	d.Filtered = d.Area != "" || d.Actor != 0 || d.APIKey != ""
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	entries, err := audit.List(ctx, h.d.DB, g.ID, before, auditPerPage+1, f)
	if err != nil {
		h.auditListFailed(w, r, f, err)
		return
	}
	d.Paged = before > 0
	filter := url.Values{}
	if d.Area != "" {
		filter.Set("area", d.Area)
	}
	if d.Actor != 0 {
		filter.Set("actor", strconv.FormatInt(d.Actor, 10))
	}
	if d.APIKey != "" {
		filter.Set("api_key", d.APIKey)
	}
	withQuery := func(path string) string {
		if q := filter.Encode(); q != "" {
			return path + "?" + q
		}
		return path
	}
	d.First, d.CSV = withQuery(guildPath(g, "/audit")), withQuery(guildPath(g, "/audit.csv"))
	if len(entries) > auditPerPage {
		entries = entries[:auditPerPage]
		filter.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
		d.Next = withQuery(guildPath(g, "/audit"))
	}
	var people []int64
	for _, e := range entries {
		if e.ActorID > 0 {
			people = append(people, e.ActorID)
		}
		if id, ok := targetID(e.Target, "user:"); ok {
			people = append(people, id)
		}
	}
	if d.Actor != 0 {
		people = append(people, d.Actor)
	}
	names := h.dir.Members(ctx, g.ID, people)
	d.ActorArg = names[d.Actor]
	keys := h.keyNames(ctx, d.APIKey, entries)
	d.KeyName = keys[d.APIKey]
	v := newValueNames(ctx, h, g.ID)
	for _, e := range entries {
		row := auditRow{ID: e.ID, At: e.At, Actor: names[e.ActorID], ActorID: e.ActorID, APIKey: e.APIKey(), Action: e.Action,
			Title: auditTitle(e.Action), Reason: e.Reason, Changes: v.diff(e.Before, e.After)}
		row.KeyName = keys[row.APIKey]
		row.CLI = e.FromCommandLine()
		row.System = e.ActorID == 0 && e.Source() == ""
		row.Subject, row.SubjectURL = subject(g, e, names)
		d.Rows = append(d.Rows, row)
	}
	h.render(w, r, http.StatusOK, "audit", &page{Title: "Audit log", Nav: "audit", Guild: g, Data: d})
}

// auditListFailed answers audit.List's error: a 400 for an area that does
// not exist (audit.List checks it), else a failure.
func (h *Handler) auditListFailed(w http.ResponseWriter, r *http.Request, f audit.Filter, err error) {
	if apperr.Is(err, apperr.Invalid) {
		h.errorPage(w, r, http.StatusBadRequest, "There is no such part of the product to filter on: "+strconv.Quote(f.Area)+".")
		return
	}
	h.fail(w, r, err)
}

// keyNames names the API keys that made the entries (and the one filtered
// on) by prefix. Keys are revoked, never deleted, so every prefix has a name;
// the list is read only when a key is there to name.
func (h *Handler) keyNames(ctx context.Context, filtered string, entries []audit.Entry) map[string]string {
	need := filtered != ""
	for _, e := range entries {
		need = need || e.APIKey() != ""
	}
	if !need {
		return nil
	}
	list, err := h.d.APIKeys.List(ctx)
	if err != nil { // the prefixes still say which key it was
		h.log.WarnContext(ctx, "audit log: list API keys", "err", err)
		return nil
	}
	out := make(map[string]string, len(list))
	for _, k := range list {
		out[k.Prefix] = k.Name
	}
	return out
}

func targetID(target, prefix string) (int64, bool) {
	s, ok := strings.CutPrefix(target, prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// subject names what an entry changed, with a link to it while it exists.
func subject(g *guildCtx, e audit.Entry, names map[int64]discordapi.Profile) (string, string) {
	name := jsonName(e.After)
	if name == "" {
		name = jsonName(e.Before)
	}
	deleted := strings.HasSuffix(e.Action, ".delete")
	switch kind, rest, _ := strings.Cut(e.Target, ":"); kind {
	case "user":
		id, _ := strconv.ParseInt(rest, 10, 64)
		return names[id].Name, guildPath(g, "/members/"+rest)
	case "squad", "rule":
		if name == "" {
			name = kind + " " + rest
		}
		if deleted {
			return name, ""
		}
		if kind == "squad" {
			return name, guildPath(g, "/squads/"+rest)
		}
		return name, guildPath(g, "/automod/rules/"+rest)
	case "case":
		return "Case #" + rest, guildPath(g, "/cases/"+rest)
	case "apikey":
		if name != "" {
			return "“" + name + "” (" + rest + ")", ""
		}
		return rest, ""
	case "guild", "":
		return "", ""
	}
	return e.Target, ""
}

// jsonName is the "name" field of a JSON object, or "".
func jsonName(raw []byte) string {
	var v struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.Name
}

// hiddenFields change with every entry, or never: bookkeeping the entry
// itself already says.
var hiddenFields = map[string]bool{"id": true, "guild_id": true, "version": true, "created_at": true, "updated_at": true}

// Fields that hold Discord ids, shown by name.
var (
	roleFields    = map[string]bool{"role_id": true, "exempt_roles": true}
	channelFields = map[string]bool{"mod_log_channel": true, "exempt_channels": true}
)

// valueNames writes audited values as an admin reads them: names for role
// and channel ids, dates as the rest of the dashboard writes them.
type valueNames struct {
	roles, channels map[string]string
}

func newValueNames(ctx context.Context, h *Handler, guild int64) valueNames {
	v := valueNames{roles: map[string]string{}, channels: map[string]string{}}
	p := h.pickOptions(ctx, guild)
	for _, o := range p.Roles {
		v.roles[o.Value] = o.Label
	}
	for _, o := range p.Channels {
		v.channels[o.Value] = o.Label
	}
	return v
}

// diff flattens two JSON documents into paths and lists what differs.
func (v valueNames) diff(before, after []byte) []change {
	b, a := map[string]any{}, map[string]any{}
	flatten("", decode(before), b)
	flatten("", decode(after), a)
	var keys []string
	for k := range b {
		keys = append(keys, k)
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []change
	for _, k := range keys {
		if hiddenFields[k] {
			continue
		}
		bv, inB := b[k]
		av, inA := a[k]
		c := change{Path: k, Label: fieldLabel(k)}
		switch {
		case inB && inA && same(bv, av):
			continue
		case !inB:
			c.After, c.Added = v.format(k, av), true
		case !inA:
			c.Before, c.Removed = v.format(k, bv), true
		default:
			c.Before, c.After = v.format(k, bv), v.format(k, av)
		}
		out = append(out, c)
	}
	return out
}

func same(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func decode(raw []byte) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	return v
}

// flatten maps each leaf of v to its path; a list of plain values (ids,
// extensions) stays one value, a list of objects is split by position.
func flatten(prefix string, v any, out map[string]any) {
	switch t := v.(type) {
	case nil:
		if prefix != "" {
			out[prefix] = nil
		}
	case map[string]any:
		if len(t) == 0 && prefix != "" {
			out[prefix] = t
		}
		for k, x := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x, out)
		}
	case []any:
		if !slices.ContainsFunc(t, func(x any) bool { _, obj := x.(map[string]any); return obj }) {
			out[prefix] = t
			return
		}
		for i, x := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), x, out)
		}
	default:
		out[prefix] = v
	}
}

// fieldLabel writes a path in words: role_rewards[0].role_id is
// "Role rewards 1 › Role".
func fieldLabel(path string) string {
	if path == "" {
		return "Value"
	}
	parts := strings.Split(path, ".")
	for i, p := range parts {
		name, index, _ := strings.Cut(p, "[")
		name = strings.TrimSuffix(name, "_id")
		name = strings.ReplaceAll(strings.ReplaceAll(name, "mod_log", "mod-log"), "_", " ")
		if index != "" {
			n, _ := strconv.Atoi(strings.TrimSuffix(index, "]"))
			name += " " + strconv.Itoa(n+1)
		}
		if name != "" {
			name = strings.ToUpper(name[:1]) + name[1:]
		}
		parts[i] = name
	}
	return strings.Join(parts, " › ")
}

// format writes one value: names for ids, dates as dates, "(empty)" and
// "none" kept apart so that an emptied text differs from an absent one.
func (v valueNames) format(path string, x any) string {
	leaf := path[strings.LastIndex(path, ".")+1:]
	if i := strings.Index(leaf, "["); i >= 0 {
		leaf = leaf[:i]
	}
	names := map[string]string(nil)
	switch {
	case roleFields[leaf]:
		names = v.roles
	case channelFields[leaf]:
		names = v.channels
	}
	one := func(x any) string {
		switch t := x.(type) {
		case nil:
			return "none"
		case bool:
			if t {
				return "yes"
			}
			return "no"
		case json.Number:
			if names != nil {
				if n, ok := names[t.String()]; ok {
					return n
				}
			}
			if n, err := t.Int64(); err == nil && !strings.HasSuffix(leaf, "_id") && names == nil {
				return formatNum(n)
			}
			return t.String()
		case string:
			if names != nil {
				if n, ok := names[t]; ok {
					return n
				}
			}
			if t == "" {
				return "(empty)"
			}
			if at, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return at.UTC().Format("2006-01-02 15:04 UTC")
			}
			return t
		case map[string]any:
			return "{}"
		}
		return fmt.Sprint(x)
	}
	if list, ok := x.([]any); ok {
		if len(list) == 0 {
			return "none"
		}
		s := make([]string, len(list))
		for i, e := range list {
			s[i] = one(e)
		}
		return strings.Join(s, ", ")
	}
	return one(x)
}

// auditExportMax bounds one download; a guild's configuration changes come
// nowhere near it, and a filter narrows a larger log. It is read in pages of
// auditExportPage.
const (
	auditExportMax  = 100_000
	auditExportPage = 500
)

// auditExport downloads the log, with the page's filters, as CSV: for an
// admin's records or a spreadsheet. Before and after are the stored JSON.
func (h *Handler) auditExport(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	ctx := r.Context()
	f, msg := auditFilter(r.URL.Query())
	if msg != "" {
		h.errorPage(w, r, http.StatusBadRequest, msg)
		return
	}
	var all []audit.Entry
	for before := int64(0); len(all) < auditExportMax; {
		page, err := audit.List(ctx, h.d.DB, g.ID, before, auditExportPage, f)
		if err != nil {
			h.auditListFailed(w, r, f, err)
			return
		}
		all = append(all, page...)
		if len(page) < auditExportPage {
			break
		}
		before = page[len(page)-1].ID
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write([]string{"id", "time", "action", "what", "target", "actor_id", "via", "api_key", "reason", "before", "after"})
	for _, e := range all {
		actor := ""
		if e.ActorID != 0 {
			actor = strconv.FormatInt(e.ActorID, 10)
		}
		_ = cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Action, csvCell(auditTitle(e.Action)),
			csvCell(e.Target), actor, e.Source(), e.APIKey(), csvCell(e.Reason), csvCell(string(e.Before)), csvCell(string(e.After))})
	}
	cw.Flush()
	name := fmt.Sprintf("audit-%d-%s.csv", g.ID, h.now().UTC().Format("20060102-150405"))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// csvCell keeps a spreadsheet from reading a cell as a formula: text that
// members or admins typed (a reason, a name) can start with = + - or @.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
