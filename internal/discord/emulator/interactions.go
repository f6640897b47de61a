package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/disgoorg/snowflake/v2"
)

// --- application commands ----------------------------------------------------

var commandNameRe = regexp.MustCompile(`^[-_\p{L}\p{N}]{1,32}$`)

func (e *Emulator) appOK(w http.ResponseWriter, r *http.Request) bool {
	app, _ := pathID(r, "app")
	if app != e.appID {
		apiError(w, http.StatusForbidden, codeMissingAccess, "Missing Access")
		return false
	}
	return true
}

// commandScope returns the guild id of a guild command route (0 = global),
// writing 404 if the guild is unknown.
func (e *Emulator) commandScope(w http.ResponseWriter, r *http.Request) (ID, bool) {
	if !e.appOK(w, r) {
		return 0, false
	}
	if r.PathValue("g") == "" {
		return 0, true
	}
	g := e.guildLocked(w, r)
	if g == nil {
		return 0, false
	}
	return g.ID, true
}

func validateCommand(c map[string]any, prefix string, fe formErrors) {
	typ := 1
	if t, ok := c["type"].(float64); ok {
		typ = int(t)
	}
	name, _ := c["name"].(string)
	switch {
	case name == "":
		fe.add(prefix+"name", "BASE_TYPE_REQUIRED", "This field is required")
	case typ == 1 && (!commandNameRe.MatchString(name) || strings.ToLower(name) != name):
		fe.add(prefix+"name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
	case len([]rune(name)) > 32:
		fe.add(prefix+"name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
	}
	desc, _ := c["description"].(string)
	if typ == 1 && (len(desc) == 0 || len([]rune(desc)) > 100) {
		fe.add(prefix+"description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	opts, _ := c["options"].([]any)
	if len(opts) > 25 {
		fe.add(prefix+"options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
	}
	seen := map[string]bool{}
	for i, o := range opts {
		om, ok := o.(map[string]any)
		p := prefix + "options." + strconv.Itoa(i) + "."
		if !ok {
			fe.add(p[:len(p)-1], "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
			continue
		}
		if t, _ := om["type"].(float64); t < 1 || t > 11 {
			fe.add(p+"type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.")
		}
		on, _ := om["name"].(string)
		if seen[on] {
			fe.add(p+"name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option name "+on+" is already used in these options")
		}
		seen[on] = true
		om2 := maps.Clone(om)
		om2["type"] = float64(1) // name/description rules are the same as for commands
		validateCommand(om2, p, fe)
	}
}

// commandsLocked returns the commands of one scope (0 = global).
func (e *Emulator) commandsLocked(guildID ID) []*Command {
	var out []*Command
	for _, c := range e.commands {
		if c.GuildID == guildID {
			out = append(out, c)
		}
	}
	return out
}

// upsertCommandLocked creates or replaces the command with the same name and
// type in the scope, keeping its id as Discord does.
func (e *Emulator) upsertCommandLocked(guildID ID, raw map[string]any) (*Command, bool) {
	typ := 1
	if t, ok := raw["type"].(float64); ok {
		typ = int(t)
	}
	name, _ := raw["name"].(string)
	var existing *Command
	for _, c := range e.commands {
		if c.GuildID == guildID && c.Name == name && c.Type == typ {
			existing = c
		}
	}
	id := e.newID()
	if existing != nil {
		id = existing.ID
	}
	out := maps.Clone(raw)
	out["id"] = id
	out["application_id"] = e.appID
	out["version"] = e.newID()
	out["type"] = typ
	if _, ok := out["description"]; !ok {
		out["description"] = ""
	}
	if _, ok := out["default_member_permissions"]; !ok {
		out["default_member_permissions"] = nil
	}
	if _, ok := out["nsfw"]; !ok {
		out["nsfw"] = false
	}
	if guildID != 0 {
		out["guild_id"] = guildID
	} else {
		delete(out, "guild_id")
	}
	c := &Command{ID: id, GuildID: guildID, Name: name, Type: typ, Raw: out}
	if existing != nil {
		*existing = *c
		return existing, false
	}
	e.commands = append(e.commands, c)
	return c, true
}

func (e *Emulator) listCommands(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	gid, ok := e.commandScope(w, r)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, c := range sortedCommands(e.commandsLocked(gid)) {
		out = append(out, c.Raw)
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) bulkCommands(w http.ResponseWriter, r *http.Request) {
	var body []map[string]any
	if _, err := decodeBody(r, &body); err != nil {
		badJSON(w)
		return
	}
	fe := formErrors{}
	if len(body) > 110 {
		fe.add("_root", "BASE_TYPE_MAX_LENGTH", "Must be 110 or fewer in length.")
	}
	seen := map[string]bool{}
	for i, c := range body {
		validateCommand(c, strconv.Itoa(i)+".", fe)
		key := fmt.Sprint(c["name"], "/", c["type"])
		if seen[key] {
			fe.add(strconv.Itoa(i)+".name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
		}
		seen[key] = true
	}
	if fe.write(w) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	gid, ok := e.commandScope(w, r)
	if !ok {
		return
	}
	var kept []*Command
	out := []map[string]any{}
	for _, raw := range body {
		c, _ := e.upsertCommandLocked(gid, raw)
		kept = append(kept, c)
		out = append(out, c.Raw)
	}
	e.commands = slices.DeleteFunc(e.commands, func(c *Command) bool {
		return c.GuildID == gid && !slices.Contains(kept, c)
	})
	writeJSON(w, 200, out)
}

func (e *Emulator) createCommand(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if _, err := decodeBody(r, &body); err != nil {
		badJSON(w)
		return
	}
	fe := formErrors{}
	validateCommand(body, "", fe)
	if fe.write(w) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	gid, ok := e.commandScope(w, r)
	if !ok {
		return
	}
	c, created := e.upsertCommandLocked(gid, body)
	status := 200
	if created {
		status = 201
	}
	writeJSON(w, status, c.Raw)
}

func (e *Emulator) commandLocked(w http.ResponseWriter, r *http.Request) *Command {
	gid, ok := e.commandScope(w, r)
	if !ok {
		return nil
	}
	id, _ := pathID(r, "cmd")
	for _, c := range e.commands {
		if c.ID == id && c.GuildID == gid {
			return c
		}
	}
	notFound(w, codeUnknownCommand)
	return nil
}

func (e *Emulator) getCommand(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.commandLocked(w, r); c != nil {
		writeJSON(w, 200, c.Raw)
	}
}

func (e *Emulator) patchCommand(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if _, err := decodeBody(r, &body); err != nil {
		badJSON(w)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.commandLocked(w, r)
	if c == nil {
		return
	}
	merged := maps.Clone(c.Raw)
	maps.Copy(merged, body)
	fe := formErrors{}
	validateCommand(merged, "", fe)
	if fe.write(w) {
		return
	}
	merged["version"] = e.newID()
	c.Raw = merged
	c.Name, _ = merged["name"].(string)
	writeJSON(w, 200, c.Raw)
}

func (e *Emulator) deleteCommand(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.commandLocked(w, r)
	if c == nil {
		return
	}
	e.commands = slices.DeleteFunc(e.commands, func(x *Command) bool { return x == c })
	w.WriteHeader(http.StatusNoContent)
}

// Commands returns every registered command (global and guild), oldest first.
func (e *Emulator) Commands() []Command {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Command{}
	for _, c := range sortedCommands(e.commands) {
		cp := *c
		cp.Raw = maps.Clone(c.Raw)
		out = append(out, cp)
	}
	return out
}

// --- interaction injection -----------------------------------------------------

// InteractionSpec describes what an emulated member does. Kind is "command"
// (slash command), "button", "select" or "modal_submit"; it defaults from the
// fields set.
type InteractionSpec struct {
	Kind      string `json:"kind,omitempty"`
	GuildID   ID     `json:"guild_id,omitempty"`
	ChannelID ID     `json:"channel_id"`
	UserID    ID     `json:"user_id"`
	// Command is "name", "name sub" or "name group sub".
	Command string `json:"command,omitempty"`
	// Options are the leaf options; types are inferred from the registered
	// command when omitted.
	Options []Option `json:"options,omitempty"`
	// MessageID, CustomID, Values are for components.
	MessageID ID       `json:"message_id,omitempty"`
	CustomID  string   `json:"custom_id,omitempty"`
	Values    []string `json:"values,omitempty"`
	// Fields are text-input values of a modal submit, by custom_id.
	Fields map[string]string `json:"fields,omitempty"`
}

// Option is one slash-command option.
type Option struct {
	Name    string   `json:"name"`
	Type    int      `json:"type,omitempty"`
	Value   any      `json:"value,omitempty"`
	Options []Option `json:"options,omitempty"`
}

// Opt is shorthand for an Option with an inferred type.
func Opt(name string, value any) Option { return Option{Name: name, Value: value} }

// ErrBadInteraction wraps everything wrong with an InteractionSpec.
var ErrBadInteraction = errors.New("emulator: bad interaction")

func badSpec(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInteraction, fmt.Sprintf(format, a...))
}

// RunCommand makes user run a slash command in a guild channel and returns
// the interaction id. command may include subcommands: "squad join".
func (e *Emulator) RunCommand(guildID, channelID, userID ID, command string, opts ...Option) (ID, error) {
	it, err := e.Interact(InteractionSpec{Kind: "command", GuildID: guildID, ChannelID: channelID, UserID: userID,
		Command: command, Options: opts})
	if err != nil {
		return 0, err
	}
	return it.ID, nil
}

// Click makes user press the button customID on message messageID.
func (e *Emulator) Click(channelID, messageID, userID ID, customID string) (ID, error) {
	it, err := e.Interact(InteractionSpec{Kind: "button", ChannelID: channelID, MessageID: messageID, UserID: userID,
		CustomID: customID})
	if err != nil {
		return 0, err
	}
	return it.ID, nil
}

// Select makes user pick values in the string select customID.
func (e *Emulator) Select(channelID, messageID, userID ID, customID string, values ...string) (ID, error) {
	it, err := e.Interact(InteractionSpec{Kind: "select", ChannelID: channelID, MessageID: messageID, UserID: userID,
		CustomID: customID, Values: values})
	if err != nil {
		return 0, err
	}
	return it.ID, nil
}

// Interact builds an INTERACTION_CREATE from spec, sends it to the bot's
// shard and returns the recorded interaction.
func (e *Emulator) Interact(spec InteractionSpec) (*Interaction, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := e.channels[spec.ChannelID]
	if ch == nil {
		return nil, badSpec("unknown channel %s", spec.ChannelID)
	}
	if spec.GuildID == 0 {
		spec.GuildID = ch.GuildID
	}
	if ch.GuildID != spec.GuildID {
		return nil, badSpec("channel %s is not in guild %s", ch.ID, spec.GuildID)
	}
	u := e.users[spec.UserID]
	if u == nil {
		return nil, badSpec("unknown user %s", spec.UserID)
	}
	var g *Guild
	if spec.GuildID != 0 {
		g = e.guilds[spec.GuildID]
		if g == nil || g.Members[spec.UserID] == nil {
			return nil, badSpec("user %s is not a member of guild %s", spec.UserID, spec.GuildID)
		}
	}
	kind := spec.Kind
	if kind == "" {
		switch {
		case spec.Command != "":
			kind = "command"
		case spec.Fields != nil:
			kind = "modal_submit"
		case spec.Values != nil:
			kind = "select"
		default:
			kind = "button"
		}
	}
	it := &Interaction{ID: e.newID(), GuildID: spec.GuildID, ChannelID: ch.ID, UserID: u.ID, Created: time.Now().UTC()}
	it.Token = fmt.Sprintf("aW50ZXJhY3Rpb24.%s.%d", it.ID, interactionTokenSeq.Add(1))
	payload := obj{"id": it.ID, "application_id": e.appID, "token": it.Token, "version": 1, "channel_id": ch.ID,
		"locale": "en-US", "entitlements": []any{}, "attachment_size_limit": 10 << 20}
	chJSON := e.channelJSON(ch)
	if g != nil {
		perms := g.permissions(u.ID)
		mem := e.memberJSON(g, g.Members[u.ID], true)
		mem["permissions"] = strconv.FormatUint(perms, 10)
		payload["member"] = mem
		payload["guild_id"] = g.ID
		payload["guild"] = obj{"id": g.ID, "locale": "en-US", "features": []string{}}
		payload["guild_locale"] = "en-US"
		payload["app_permissions"] = strconv.FormatUint(g.permissions(e.appID), 10)
		payload["authorizing_integration_owners"] = obj{"0": g.ID}
		payload["context"] = 0
		chJSON["permissions"] = strconv.FormatUint(perms, 10)
	} else {
		payload["user"] = e.userJSON(u)
		payload["authorizing_integration_owners"] = obj{"1": u.ID}
		payload["context"] = 1
		payload["app_permissions"] = strconv.FormatUint(PermDefaultEveryone, 10)
		chJSON["permissions"] = strconv.FormatUint(PermDefaultEveryone, 10)
	}
	payload["channel"] = chJSON

	switch kind {
	case "command":
		it.Type = 2
		data, err := e.commandData(g, spec)
		if err != nil {
			return nil, err
		}
		payload["data"] = data
	case "button", "select":
		it.Type = 3
		m := e.findAnyMessage(ch.ID, spec.MessageID)
		if m == nil {
			return nil, badSpec("unknown message %s in channel %s", spec.MessageID, ch.ID)
		}
		if m.AuthorID != e.appID {
			return nil, badSpec("message %s was not sent by the bot", m.ID)
		}
		ctype, found := componentType(m.Components, spec.CustomID)
		if !found {
			return nil, badSpec("message %s has no component with custom_id %q", m.ID, spec.CustomID)
		}
		data := obj{"custom_id": spec.CustomID, "component_type": ctype}
		if ctype != 2 {
			vals := spec.Values
			if vals == nil {
				vals = []string{}
			}
			data["values"] = vals
		}
		it.MessageID = m.ID
		payload["data"] = data
		payload["message"] = e.messageJSON(m)
	case "modal_submit":
		it.Type = 5
		rows := []obj{}
		keys := slices.Sorted(maps.Keys(spec.Fields))
		for _, k := range keys {
			rows = append(rows, obj{"type": 1, "components": []obj{{"type": 4, "custom_id": k, "value": spec.Fields[k]}}})
		}
		payload["data"] = obj{"custom_id": spec.CustomID, "components": rows}
		if spec.MessageID != 0 {
			if m := e.findAnyMessage(ch.ID, spec.MessageID); m != nil {
				it.MessageID = m.ID
				payload["message"] = e.messageJSON(m)
			}
		}
	default:
		return nil, badSpec("unknown kind %q", kind)
	}
	payload["type"] = it.Type
	it.Data = mustJSON(payload["data"])
	e.interactions[it.ID] = it
	e.byToken[it.Token] = it
	e.dispatch(spec.GuildID, "INTERACTION_CREATE", payload, 0, nil)
	return it.clone(), nil
}

// findAnyMessage finds a channel message or an ephemeral interaction reply.
func (e *Emulator) findAnyMessage(chID, id ID) *Message {
	if m := e.findChannelMessage(chID, id); m != nil {
		return m
	}
	for _, it := range e.interactions {
		if it.Original != nil && it.Original.ID == id && !it.Original.Deleted {
			return it.Original
		}
		for _, f := range it.Followups {
			if f.ID == id && !f.Deleted {
				return f
			}
		}
	}
	return nil
}

func componentType(raw json.RawMessage, customID string) (int, bool) {
	var v any
	_ = json.Unmarshal(raw, &v)
	var walk func(any) (int, bool)
	walk = func(x any) (int, bool) {
		switch t := x.(type) {
		case []any:
			for _, c := range t {
				if ct, ok := walk(c); ok {
					return ct, true
				}
			}
		case map[string]any:
			if id, _ := t["custom_id"].(string); id == customID && customID != "" {
				ct, _ := t["type"].(float64)
				return int(ct), true
			}
			for _, k := range []string{"components", "accessory", "component"} {
				if c, ok := t[k]; ok {
					if ct, ok := walk(c); ok {
						return ct, true
					}
				}
			}
		}
		return 0, false
	}
	return walk(v)
}

// commandData resolves the command path against the registered definition
// so option types and resolved users/members/roles come out like Discord's.
func (e *Emulator) commandData(g *Guild, spec InteractionSpec) (obj, error) {
	parts := strings.Fields(spec.Command)
	if len(parts) == 0 {
		return nil, badSpec("command name required")
	}
	var cmd *Command
	for _, scope := range []ID{spec.GuildID, 0} {
		for _, c := range e.commands {
			if c.GuildID == scope && c.Name == parts[0] && c.Type == 1 && cmd == nil {
				cmd = c
			}
		}
		if cmd != nil || scope == 0 {
			break
		}
	}
	if cmd == nil {
		return nil, badSpec("command %q is not registered", parts[0])
	}
	resolved := obj{}
	def, _ := cmd.Raw["options"].([]any)
	for _, p := range parts[1:] {
		def = subOptions(def, p)
	}
	leafOpts, err := e.buildOptions(g, def, spec.Options, resolved)
	if err != nil {
		return nil, err
	}
	// wrap leaf options in subcommand (group) layers, innermost first
	for i := len(parts) - 1; i >= 1; i-- {
		defs, _ := cmd.Raw["options"].([]any)
		for _, p := range parts[1:i] {
			defs = subOptions(defs, p)
		}
		d := findOptDef(defs, parts[i])
		if d == nil {
			return nil, badSpec("command %q has no subcommand %q", parts[0], parts[i])
		}
		t, _ := d["type"].(float64)
		leafOpts = []obj{{"name": parts[i], "type": int(t), "options": leafOpts}}
	}
	data := obj{"id": cmd.ID, "name": cmd.Name, "type": 1, "options": leafOpts}
	if cmd.GuildID != 0 {
		data["guild_id"] = cmd.GuildID
	}
	if len(resolved) > 0 {
		data["resolved"] = resolved
	}
	return data, nil
}

func findOptDef(defs []any, name string) map[string]any {
	for _, d := range defs {
		if m, ok := d.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

func subOptions(defs []any, name string) []any {
	if d := findOptDef(defs, name); d != nil {
		o, _ := d["options"].([]any)
		return o
	}
	return nil
}

func (e *Emulator) buildOptions(g *Guild, defs []any, opts []Option, resolved obj) ([]obj, error) {
	out := []obj{}
	for _, o := range opts {
		typ := o.Type
		if typ == 0 {
			d := findOptDefDeep(defs, o.Name)
			if d == nil {
				return nil, badSpec("unknown option %q (register the command first or give a type)", o.Name)
			}
			t, _ := d["type"].(float64)
			typ = int(t)
		}
		val, err := e.optionValue(g, typ, o.Value, resolved)
		if err != nil {
			return nil, badSpec("option %q: %v", o.Name, err)
		}
		out = append(out, obj{"name": o.Name, "type": typ, "value": val})
	}
	return out, nil
}

// findOptDefDeep looks for a leaf option definition anywhere under defs, so
// leaf options of "name sub" resolve without the caller nesting them.
func findOptDefDeep(defs []any, name string) map[string]any {
	for _, d := range defs {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		t, _ := m["type"].(float64)
		if (t == 1 || t == 2) && m["options"] != nil {
			if sub := findOptDefDeep(m["options"].([]any), name); sub != nil {
				return sub
			}
			continue
		}
		if m["name"] == name {
			return m
		}
	}
	return nil
}

func (e *Emulator) optionValue(g *Guild, typ int, v any, resolved obj) (any, error) {
	str := fmt.Sprint(v)
	switch typ {
	case 3:
		return str, nil
	case 4:
		n, err := strconv.ParseInt(str, 10, 64)
		return n, err
	case 10:
		f, err := strconv.ParseFloat(str, 64)
		return f, err
	case 5:
		b, err := strconv.ParseBool(str)
		return b, err
	case 6, 7, 8, 9:
		id, err := snowflake.Parse(str)
		if err != nil {
			return nil, err
		}
		section := func(k string) obj {
			m, ok := resolved[k].(obj)
			if !ok {
				m = obj{}
				resolved[k] = m
			}
			return m
		}
		if u := e.users[id]; u != nil && (typ == 6 || typ == 9) {
			section("users")[id.String()] = e.userJSON(u)
			if g != nil && g.Members[id] != nil {
				mj := e.memberJSON(g, g.Members[id], false)
				mj["permissions"] = strconv.FormatUint(g.permissions(id), 10)
				section("members")[id.String()] = mj
			}
			return id, nil
		}
		if g != nil && (typ == 8 || typ == 9) {
			if r := g.role(id); r != nil {
				section("roles")[id.String()] = e.roleJSON(r)
				return id, nil
			}
		}
		if c := e.channels[id]; c != nil && typ == 7 {
			cj := e.channelJSON(c)
			cj["permissions"] = strconv.FormatUint(PermAll, 10)
			section("channels")[id.String()] = cj
			return id, nil
		}
		return nil, fmt.Errorf("unknown entity %s", id)
	}
	return v, nil
}

// Interaction returns the recorded interaction with the bot's response.
func (e *Emulator) Interaction(id ID) (*Interaction, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	it := e.interactions[id]
	if it == nil {
		return nil, false
	}
	return it.clone(), true
}

// AwaitResponse waits until the bot has answered interaction id (callback
// received) or ctx ends.
func (e *Emulator) AwaitResponse(ctx context.Context, id ID) (*Interaction, error) {
	return e.AwaitInteraction(ctx, id, func(it *Interaction) bool { return it.ResponseType != 0 })
}

// AwaitInteraction polls until cond holds for interaction id.
func (e *Emulator) AwaitInteraction(ctx context.Context, id ID, cond func(*Interaction) bool) (*Interaction, error) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		it, ok := e.Interaction(id)
		if !ok {
			return nil, fmt.Errorf("unknown interaction %s", id)
		}
		if cond(it) {
			return it, nil
		}
		select {
		case <-ctx.Done():
			return it, ctx.Err()
		case <-t.C:
		}
	}
}

// --- interaction callback & webhooks ------------------------------------------

func (e *Emulator) interactionCallback(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	files, err := decodeBody(r, &body)
	if err != nil {
		badJSON(w)
		return
	}
	id, _ := pathID(r, "id")
	e.mu.Lock()
	defer e.mu.Unlock()
	it := e.interactions[id]
	if it == nil || it.Token != r.PathValue("token") {
		notFound(w, codeUnknownInteraction)
		return
	}
	if it.ResponseType != 0 {
		apiError(w, http.StatusBadRequest, codeAlreadyAcked, "Interaction has already been acknowledged.")
		return
	}
	fe := formErrors{}
	allowed := map[int][]int{2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 5: {4, 5, 6, 7}, 4: {8}, 1: {1}}
	if !slices.Contains(allowed[it.Type], body.Type) {
		fe.add("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid for this interaction")
		fe.write(w)
		return
	}
	var mb messageBody
	if present(body.Data) && body.Type != 9 && body.Type != 8 {
		if json.Unmarshal(body.Data, &mb) != nil {
			badJSON(w)
			return
		}
		validateMessage(&mb, fe)
	}
	if fe.write(w) {
		return
	}
	msgType := 20
	if it.Type != 2 {
		msgType = 19
	}
	newMsg := func(flags int) *Message {
		return &Message{ID: e.newID(), ChannelID: it.ChannelID, GuildID: it.GuildID, AuthorID: e.appID,
			Timestamp: time.Now().UTC(), WebhookID: e.appID, InteractionID: it.ID, Type: msgType,
			Ephemeral: flags&64 != 0, Flags: flags}
	}
	switch body.Type {
	case 4:
		if messageIsEmpty(&mb, files) {
			apiError(w, http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
			return
		}
		flags := 0
		if mb.Flags != nil {
			flags = *mb.Flags
		}
		m := newMsg(flags & (64 | 4 | 4096 | 1<<15))
		e.applyBody(m, &mb, files)
		it.Original = m
		if !m.Ephemeral {
			e.storeMessage(m)
		}
	case 5:
		flags := 0
		if mb.Flags != nil {
			flags = *mb.Flags
		}
		m := newMsg(flags&64 | 128) // LOADING until the bot edits @original
		it.Original = m
		if !m.Ephemeral {
			e.storeMessage(m)
		}
	case 6:
		it.Original = e.findAnyMessage(it.ChannelID, it.MessageID)
	case 7:
		m := e.findAnyMessage(it.ChannelID, it.MessageID)
		if m == nil {
			notFound(w, codeUnknownMessage)
			return
		}
		e.applyBody(m, &mb, files)
		now := time.Now().UTC()
		m.EditedTimestamp = &now
		if !m.Ephemeral {
			e.dispatchMessage("MESSAGE_UPDATE", m)
		}
		it.Original = m
	case 9:
		var modal struct {
			CustomID   string          `json:"custom_id"`
			Title      string          `json:"title"`
			Components json.RawMessage `json:"components"`
		}
		_ = json.Unmarshal(body.Data, &modal)
		if modal.CustomID == "" {
			fe.add("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if modal.Title == "" {
			fe.add("data.title", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if !present(modal.Components) {
			fe.add("data.components", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if fe.write(w) {
			return
		}
		it.Modal = slices.Clone(body.Data)
	}
	now := time.Now().UTC()
	it.ResponseType = body.Type
	it.ResponseData = slices.Clone(body.Data)
	it.RespondedAt = &now
	if r.URL.Query().Get("with_response") != "true" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	cb := obj{"id": it.ID, "type": it.Type}
	resource := obj{"type": body.Type}
	if it.Original != nil && body.Type != 6 {
		cb["response_message_id"] = it.Original.ID
		cb["response_message_loading"] = it.Original.Flags&128 != 0
		cb["response_message_ephemeral"] = it.Original.Ephemeral
		resource["message"] = e.messageJSON(it.Original)
	}
	writeJSON(w, 200, obj{"interaction": cb, "resource": resource})
}

func (e *Emulator) webhookInteraction(w http.ResponseWriter, r *http.Request) *Interaction {
	app, _ := pathID(r, "app")
	it := e.byToken[r.PathValue("token")]
	if app != e.appID || it == nil {
		apiError(w, http.StatusNotFound, 10015, "Unknown Webhook")
		return nil
	}
	if it.ResponseType == 0 {
		// Discord only creates the webhook once the interaction was acknowledged.
		apiError(w, http.StatusNotFound, 10015, "Unknown Webhook")
		return nil
	}
	return it
}

func (e *Emulator) createFollowup(w http.ResponseWriter, r *http.Request) {
	var mb messageBody
	files, err := decodeBody(r, &mb)
	if err != nil {
		badJSON(w)
		return
	}
	fe := formErrors{}
	validateMessage(&mb, fe)
	if fe.write(w) {
		return
	}
	if messageIsEmpty(&mb, files) {
		apiError(w, http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	it := e.webhookInteraction(w, r)
	if it == nil {
		return
	}
	flags := 0
	if mb.Flags != nil {
		flags = *mb.Flags
	}
	m := &Message{ID: e.newID(), ChannelID: it.ChannelID, GuildID: it.GuildID, AuthorID: e.appID,
		Timestamp: time.Now().UTC(), WebhookID: e.appID, InteractionID: it.ID, Type: 0,
		Ephemeral: flags&64 != 0}
	e.applyBody(m, &mb, files)
	m.Flags = flags & (64 | 4 | 4096 | 1<<15)
	it.Followups = append(it.Followups, m)
	if !m.Ephemeral {
		e.storeMessage(m)
	}
	writeJSON(w, 200, e.messageJSON(m))
}

func (e *Emulator) webhookMessage(w http.ResponseWriter, r *http.Request) {
	var mb messageBody
	var files []Attachment
	if r.Method == http.MethodPatch {
		var err error
		if files, err = decodeBody(r, &mb); err != nil {
			badJSON(w)
			return
		}
		fe := formErrors{}
		validateMessage(&mb, fe)
		if fe.write(w) {
			return
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	it := e.webhookInteraction(w, r)
	if it == nil {
		return
	}
	target := r.PathValue("m")
	var m *Message
	if target == "@original" {
		m = it.Original
	} else {
		id, _ := snowflake.Parse(target)
		if it.Original != nil && it.Original.ID == id {
			m = it.Original
		}
		for _, f := range it.Followups {
			if f.ID == id {
				m = f
			}
		}
	}
	if m == nil || m.Deleted {
		notFound(w, codeUnknownMessage)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, e.messageJSON(m))
	case http.MethodPatch:
		raw, _ := json.Marshal(mb)
		it.Edits = append(it.Edits, EditRecord{Target: target, Method: "PATCH", Data: raw, At: time.Now().UTC()})
		e.editMessageLocked(m, &mb, files)
		writeJSON(w, 200, e.messageJSON(m))
	case http.MethodDelete:
		it.Edits = append(it.Edits, EditRecord{Target: target, Method: "DELETE", At: time.Now().UTC()})
		e.removeMessageLocked(m)
		w.WriteHeader(http.StatusNoContent)
	}
}
