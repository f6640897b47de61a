package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/disgoorg/snowflake/v2"
)

func (e *Emulator) buildHandler() http.Handler {
	rr := &restRouter{mux: http.NewServeMux(), auth: map[string]authMode{}}
	e.registerREST(rr)
	root := http.NewServeMux()
	root.Handle("/api/v10/", e.serveREST(rr))
	root.HandleFunc("/gateway", e.serveGateway)
	root.HandleFunc("/gateway/", e.serveGateway)
	root.HandleFunc("GET /oauth2/authorize", e.serveAuthorize)
	root.HandleFunc("GET /api/oauth2/authorize", e.serveAuthorize)
	root.Handle("/_emulator/", e.controlHandler())
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Discord emulator. REST: /api/v10, gateway: /gateway, OAuth2: /oauth2/authorize, control: /_emulator (see docs/emulator.md)\n"))
	})
	return root
}

func (e *Emulator) registerREST(rr *restRouter) {
	rr.handle("GET /gateway", authNone, e.getGateway)
	rr.handle("GET /gateway/bot", authBot, e.getGatewayBot)
	rr.handle("GET /users/@me", authBotOrBearer, e.getMe)
	rr.handle("GET /users/@me/guilds", authBotOrBearer, e.getMyGuilds)
	rr.handle("POST /users/@me/channels", authBot, e.createDM)
	rr.handle("GET /users/{u}", authBot, e.getUser)
	rr.handle("GET /applications/@me", authBot, e.getApplication)

	rr.handle("GET /applications/{app}/commands", authBot, e.listCommands)
	rr.handle("PUT /applications/{app}/commands", authBot, e.bulkCommands)
	rr.handle("POST /applications/{app}/commands", authBot, e.createCommand)
	rr.handle("GET /applications/{app}/commands/{cmd}", authBot, e.getCommand)
	rr.handle("PATCH /applications/{app}/commands/{cmd}", authBot, e.patchCommand)
	rr.handle("DELETE /applications/{app}/commands/{cmd}", authBot, e.deleteCommand)
	rr.handle("GET /applications/{app}/guilds/{g}/commands", authBot, e.listCommands)
	rr.handle("PUT /applications/{app}/guilds/{g}/commands", authBot, e.bulkCommands)
	rr.handle("POST /applications/{app}/guilds/{g}/commands", authBot, e.createCommand)
	rr.handle("GET /applications/{app}/guilds/{g}/commands/{cmd}", authBot, e.getCommand)
	rr.handle("PATCH /applications/{app}/guilds/{g}/commands/{cmd}", authBot, e.patchCommand)
	rr.handle("DELETE /applications/{app}/guilds/{g}/commands/{cmd}", authBot, e.deleteCommand)

	rr.handle("POST /interactions/{id}/{token}/callback", authNone, e.interactionCallback)
	rr.handle("POST /webhooks/{app}/{token}", authNone, e.createFollowup)
	rr.handle("GET /webhooks/{app}/{token}/messages/{m}", authNone, e.webhookMessage)
	rr.handle("PATCH /webhooks/{app}/{token}/messages/{m}", authNone, e.webhookMessage)
	rr.handle("DELETE /webhooks/{app}/{token}/messages/{m}", authNone, e.webhookMessage)

	rr.handle("GET /channels/{ch}", authBot, e.getChannel)
	rr.handle("GET /channels/{ch}/messages", authBot, e.listMessages)
	rr.handle("POST /channels/{ch}/messages", authBot, e.postMessage)
	rr.handle("GET /channels/{ch}/messages/{m}", authBot, e.getMessage)
	rr.handle("PATCH /channels/{ch}/messages/{m}", authBot, e.patchMessage)
	rr.handle("DELETE /channels/{ch}/messages/{m}", authBot, e.deleteMessage)
	rr.handle("PUT /channels/{ch}/messages/{m}/reactions/{emoji}/@me", authBot, e.addReaction)
	rr.handle("DELETE /channels/{ch}/messages/{m}/reactions/{emoji}/@me", authBot, e.removeReaction)

	rr.handle("GET /guilds/{g}", authBot, e.getGuild)
	rr.handle("GET /guilds/{g}/roles", authBot, e.getRoles)
	rr.handle("GET /guilds/{g}/channels", authBot, e.getGuildChannels)
	rr.handle("GET /guilds/{g}/members", authBot, e.listMembers)
	rr.handle("GET /guilds/{g}/members/{u}", authBot, e.getMember)
	rr.handle("PATCH /guilds/{g}/members/{u}", authBot, e.patchMember)
	rr.handle("DELETE /guilds/{g}/members/{u}", authBot, e.kickMember)
	rr.handle("PUT /guilds/{g}/members/{u}/roles/{r}", authBot, e.memberRole)
	rr.handle("DELETE /guilds/{g}/members/{u}/roles/{r}", authBot, e.memberRole)
	rr.handle("GET /guilds/{g}/bans", authBot, e.listBans)
	rr.handle("GET /guilds/{g}/bans/{u}", authBot, e.getBan)
	rr.handle("PUT /guilds/{g}/bans/{u}", authBot, e.putBan)
	rr.handle("DELETE /guilds/{g}/bans/{u}", authBot, e.deleteBan)

	rr.handle("POST /oauth2/token", authNone, e.oauthToken)
	rr.handle("POST /oauth2/token/revoke", authNone, e.oauthRevoke)
	rr.handle("GET /oauth2/@me", authBearer, e.oauthMe)
}

func pathID(r *http.Request, name string) (ID, bool) {
	id, err := snowflake.Parse(r.PathValue(name))
	return id, err == nil && id != 0
}

// --- gateway, users, application -------------------------------------------

func (e *Emulator) getGateway(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, obj{"url": e.GatewayURL()})
}

func (e *Emulator) getGatewayBot(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, obj{"url": e.GatewayURL(), "shards": e.opts.Shards, "session_start_limit": obj{
		"total": 1000, "remaining": 999, "reset_after": 86400000, "max_concurrency": 16}})
}

func (e *Emulator) getMe(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if !c.bot && !slices.Contains(c.scopes, "identify") {
		apiError(w, http.StatusForbidden, codeMissingAccess, "Missing Access")
		return
	}
	e.mu.Lock()
	u := e.userByID(c.userID)
	e.mu.Unlock()
	u["mfa_enabled"] = false
	u["locale"] = "en-US"
	u["verified"] = true
	u["banner"] = nil
	u["accent_color"] = nil
	if slices.Contains(c.scopes, "email") {
		u["email"] = "user" + c.userID.String() + "@example.invalid"
	}
	writeJSON(w, 200, u)
}

func (e *Emulator) getMyGuilds(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if !c.bot && !slices.Contains(c.scopes, "guilds") {
		apiError(w, http.StatusForbidden, codeMissingAccess, "Missing Access")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []obj{}
	for _, gid := range e.guildOrder {
		g := e.guilds[gid]
		if g == nil || g.Members[c.userID] == nil {
			continue
		}
		out = append(out, obj{"id": g.ID, "name": g.Name, "icon": nil, "banner": nil, "owner": g.OwnerID == c.userID,
			"permissions": strconv.FormatUint(g.permissions(c.userID), 10), "features": []string{},
			"approximate_member_count": len(g.Members), "approximate_presence_count": 0})
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request) {
	id, _ := pathID(r, "u")
	e.mu.Lock()
	u := e.users[id]
	var o obj
	if u != nil {
		o = e.userJSON(u)
	}
	e.mu.Unlock()
	if u == nil {
		notFound(w, codeUnknownUser)
		return
	}
	writeJSON(w, 200, o)
}

func (e *Emulator) getApplication(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	bot := e.userByID(e.appID)
	e.mu.Unlock()
	writeJSON(w, 200, obj{"id": e.appID, "name": e.opts.BotName, "icon": nil, "description": "Emulated application",
		"bot_public": true, "bot_require_code_grant": false, "verify_key": strings.Repeat("0", 64), "flags": 1 << 19,
		"bot": bot, "team": nil, "redirect_uris": e.opts.RedirectURIs, "interactions_endpoint_url": nil,
		"tags": []string{}, "approximate_guild_count": len(e.Guilds())})
}

func (e *Emulator) createDM(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RecipientID ID `json:"recipient_id"`
	}
	if _, err := decodeBody(r, &body); err != nil {
		badJSON(w)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.users[body.RecipientID] == nil {
		fe := formErrors{}
		fe.add("recipient_id", "USER_NOT_FOUND", "Unknown user")
		fe.write(w)
		return
	}
	writeJSON(w, 200, e.channelJSON(e.dmChannelLocked(body.RecipientID)))
}

func (e *Emulator) dmChannelLocked(uid ID) *Channel {
	if cid, ok := e.dms[uid]; ok {
		return e.channels[cid]
	}
	c := &Channel{ID: e.newID(), Type: 1, RecipientID: uid}
	e.channels[c.ID] = c
	e.dms[uid] = c.ID
	return c
}

// --- channels & messages ----------------------------------------------------

func (e *Emulator) channelLocked(w http.ResponseWriter, r *http.Request) *Channel {
	id, _ := pathID(r, "ch")
	c := e.channels[id]
	if c == nil {
		notFound(w, codeUnknownChannel)
	}
	return c
}

func (e *Emulator) getChannel(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.channelLocked(w, r); c != nil {
		writeJSON(w, 200, e.channelJSON(c))
	}
}

// queryLimit reads a "limit" query parameter as Discord does: def when
// absent, 1..most otherwise; a bad value gets Discord's 50035 body.
func queryLimit(w http.ResponseWriter, v string, def, most int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		fe := formErrors{}
		fe.add("limit", "NUMBER_TYPE_MAX", fmt.Sprintf("int value should be between 1 and %d.", most))
		fe.write(w)
		return 0, false
	}
	return n, true
}

func (e *Emulator) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := queryLimit(w, q.Get("limit"), 50, 100)
	if !ok {
		return
	}
	before, _ := snowflake.Parse(q.Get("before"))
	after, _ := snowflake.Parse(q.Get("after"))
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(w, r)
	if c == nil {
		return
	}
	out := []obj{}
	msgs := e.messages[c.ID]
	if after != 0 {
		for _, m := range msgs { // oldest first after "after", returned newest first
			if m.ID > after && len(out) < limit {
				out = append(out, e.messageJSON(m))
			}
		}
		slices.Reverse(out)
	} else {
		for i := len(msgs) - 1; i >= 0 && len(out) < limit; i-- {
			if before == 0 || msgs[i].ID < before {
				out = append(out, e.messageJSON(msgs[i]))
			}
		}
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) findChannelMessage(chID, id ID) *Message {
	for _, m := range e.messages[chID] {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (e *Emulator) getMessage(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(w, r)
	if c == nil {
		return
	}
	id, _ := pathID(r, "m")
	m := e.findChannelMessage(c.ID, id)
	if m == nil {
		notFound(w, codeUnknownMessage)
		return
	}
	writeJSON(w, 200, e.messageJSON(m))
}

// messageBody is what bots send to create or edit messages. Raw fields keep
// Discord's null-vs-absent distinction for edits.
type messageBody struct {
	Content          *string         `json:"content"`
	Embeds           json.RawMessage `json:"embeds"`
	Components       json.RawMessage `json:"components"`
	Flags            *int            `json:"flags"`
	MessageReference json.RawMessage `json:"message_reference"`
	Attachments      json.RawMessage `json:"attachments"`
	Nonce            json.RawMessage `json:"nonce"` // a string or an integer
	EnforceNonce     bool            `json:"enforce_nonce"`
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func isEmptyArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return json.Unmarshal(raw, &a) == nil && len(a) == 0
}

// nonceWindow is how long Discord remembers an enforced nonce ("a few
// minutes").
const nonceWindow = 5 * time.Minute

// validateMessage applies the Discord limits most likely to bite a bot.
func validateMessage(b *messageBody, fe formErrors) {
	if b.Content != nil && len([]rune(*b.Content)) > 2000 {
		fe.add("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
	}
	if present(b.Embeds) {
		var embeds []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Fields      []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"fields"`
			Footer struct {
				Text string `json:"text"`
			} `json:"footer"`
			Author struct {
				Name string `json:"name"`
			} `json:"author"`
		}
		if json.Unmarshal(b.Embeds, &embeds) != nil {
			fe.add("embeds", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
		} else {
			if len(embeds) > 10 {
				fe.add("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
			}
			total := 0 // Discord's limit on every embed of a message together
			for i, em := range embeds {
				p := "embeds." + strconv.Itoa(i)
				total += utf8.RuneCountInString(em.Title) + utf8.RuneCountInString(em.Description) +
					utf8.RuneCountInString(em.Footer.Text) + utf8.RuneCountInString(em.Author.Name)
				if len([]rune(em.Footer.Text)) > 2048 {
					fe.add(p+".footer.text", "BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.")
				}
				if len([]rune(em.Title)) > 256 {
					fe.add(p+".title", "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")
				}
				if len([]rune(em.Description)) > 4096 {
					fe.add(p+".description", "BASE_TYPE_MAX_LENGTH", "Must be 4096 or fewer in length.")
				}
				if len(em.Fields) > 25 {
					fe.add(p+".fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
				}
				for j, f := range em.Fields {
					fp := p + ".fields." + strconv.Itoa(j)
					if f.Name == "" {
						fe.add(fp+".name", "BASE_TYPE_REQUIRED", "This field is required")
					}
					if f.Value == "" {
						fe.add(fp+".value", "BASE_TYPE_REQUIRED", "This field is required")
					}
					total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
					if len([]rune(f.Name)) > 256 {
						fe.add(fp+".name", "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")
					}
					if len([]rune(f.Value)) > 1024 {
						fe.add(fp+".value", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.")
					}
				}
			}
			if total > 6000 {
				fe.add("embeds", "BASE_TYPE_MAX_LENGTH", "Embed size exceeds maximum size of 6000")
			}
		}
	}
	v2 := b.Flags != nil && *b.Flags&(1<<15) != 0
	if present(b.Components) && !v2 {
		var rows []struct {
			Type       int `json:"type"`
			Components []struct {
				Type     int               `json:"type"`
				Style    int               `json:"style"`
				CustomID string            `json:"custom_id"`
				URL      string            `json:"url"`
				Options  []json.RawMessage `json:"options"`
			} `json:"components"`
		}
		if json.Unmarshal(b.Components, &rows) != nil {
			fe.add("components", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
			return
		}
		if len(rows) > 5 {
			fe.add("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
		}
		for i, row := range rows {
			p := "components." + strconv.Itoa(i)
			if row.Type != 1 {
				fe.add(p+".type", "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (1,).")
				continue
			}
			if len(row.Components) == 0 || len(row.Components) > 5 {
				fe.add(p+".components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
			}
			for j, c := range row.Components {
				cp := p + ".components." + strconv.Itoa(j)
				needsID := c.Type != 2 || (c.Style != 5 && c.Style != 6)
				if needsID && c.CustomID == "" {
					fe.add(cp+".custom_id", "BASE_TYPE_REQUIRED", "This field is required")
				}
				if len(c.CustomID) > 100 {
					fe.add(cp+".custom_id", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
				}
				if c.Type == 2 && c.Style == 5 && c.URL == "" {
					fe.add(cp+".url", "BASE_TYPE_REQUIRED", "This field is required")
				}
				if c.Type == 3 && (len(c.Options) == 0 || len(c.Options) > 25) { // a string select
					fe.add(cp+".options", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
				}
			}
		}
	}
}

func messageIsEmpty(b *messageBody, files []Attachment) bool {
	return (b.Content == nil || *b.Content == "") && (!present(b.Embeds) || isEmptyArray(b.Embeds)) &&
		(!present(b.Components) || isEmptyArray(b.Components)) && len(files) == 0
}

// applyBody copies the fields present in b onto m (create and edit share it).
func (e *Emulator) applyBody(m *Message, b *messageBody, files []Attachment) {
	if b.Content != nil {
		m.Content = *b.Content
	}
	if b.Embeds != nil {
		m.Embeds = nil
		if present(b.Embeds) && !isEmptyArray(b.Embeds) {
			m.Embeds = slices.Clone(b.Embeds)
		}
	}
	if b.Components != nil {
		m.Components = nil
		if present(b.Components) && !isEmptyArray(b.Components) {
			m.Components = slices.Clone(b.Components)
		}
	}
	if b.Flags != nil {
		m.Flags = *b.Flags
	}
	for _, f := range files {
		f.ID = e.newID()
		f.URL = "https://cdn.discordapp.com/attachments/" + m.ChannelID.String() + "/" + f.ID.String() + "/" + f.Filename
		f.ProxyURL = f.URL
		m.Attachments = append(m.Attachments, f)
	}
}

// storeMessage appends m to its channel and announces it. Caller holds e.mu.
func (e *Emulator) storeMessage(m *Message) {
	e.messages[m.ChannelID] = append(e.messages[m.ChannelID], m)
	e.dispatchMessage("MESSAGE_CREATE", m)
}

func (e *Emulator) dispatchMessage(t string, m *Message) {
	payload := e.messageJSON(m)
	var stripped obj
	mention := "<@" + e.appID.String() + ">"
	if m.AuthorID != e.appID && m.GuildID != 0 && !strings.Contains(m.Content, mention) {
		// Without MESSAGE_CONTENT Discord blanks these fields for other people's messages.
		stripped = e.messageJSON(m)
		stripped["content"] = ""
		stripped["embeds"] = []any{}
		stripped["attachments"] = []any{}
		stripped["components"] = []any{}
	}
	intent := int64(IntentGuildMessages)
	if m.GuildID == 0 {
		intent = IntentDirectMessages
	}
	var s any
	if stripped != nil {
		s = stripped
	}
	e.dispatch(m.GuildID, t, payload, intent, s)
}

func (e *Emulator) postMessage(w http.ResponseWriter, r *http.Request) {
	var b messageBody
	files, err := decodeBody(r, &b)
	if err != nil {
		badJSON(w)
		return
	}
	fe := formErrors{}
	validateMessage(&b, fe)
	if fe.write(w) {
		return
	}
	if messageIsEmpty(&b, files) {
		apiError(w, http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(w, r)
	if c == nil {
		return
	}
	nonce := strings.Trim(string(b.Nonce), `"`)
	if b.EnforceNonce && nonce != "" {
		// Discord answers a second create with the same nonce from the same
		// author within a few minutes with the first message, posting nothing.
		for _, prev := range e.messages[c.ID] {
			if prev.Nonce == nonce && prev.AuthorID == e.appID && time.Since(prev.Timestamp) < nonceWindow {
				writeJSON(w, 200, e.messageJSON(prev))
				return
			}
		}
	}
	m := &Message{ID: e.newID(), ChannelID: c.ID, GuildID: c.GuildID, AuthorID: e.appID, Timestamp: time.Now().UTC(), Nonce: nonce}
	if present(b.MessageReference) {
		var ref struct {
			MessageID       ID    `json:"message_id"`
			ChannelID       ID    `json:"channel_id"`
			FailIfNotExists *bool `json:"fail_if_not_exists"`
		}
		_ = json.Unmarshal(b.MessageReference, &ref)
		refCh := c.ID
		if ref.ChannelID != 0 {
			refCh = ref.ChannelID
		}
		if e.findChannelMessage(refCh, ref.MessageID) == nil {
			if ref.FailIfNotExists == nil || *ref.FailIfNotExists {
				fe.add("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
				fe.write(w)
				return
			}
		} else {
			m.Type = 19
			m.MessageReference = mustJSON(obj{"type": 0, "message_id": ref.MessageID, "channel_id": refCh, "guild_id": c.GuildID})
		}
	}
	e.applyBody(m, &b, files)
	m.Flags &= 1<<2 | 1<<12 | 1<<15 // only SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2 are settable
	e.storeMessage(m)
	writeJSON(w, 200, e.messageJSON(m))
}

func (e *Emulator) patchMessage(w http.ResponseWriter, r *http.Request) {
	var b messageBody
	files, err := decodeBody(r, &b)
	if err != nil {
		badJSON(w)
		return
	}
	fe := formErrors{}
	validateMessage(&b, fe)
	if fe.write(w) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(w, r)
	if c == nil {
		return
	}
	id, _ := pathID(r, "m")
	m := e.findChannelMessage(c.ID, id)
	if m == nil {
		notFound(w, codeUnknownMessage)
		return
	}
	if m.AuthorID != e.appID {
		apiError(w, http.StatusForbidden, codeCannotEditOther, "Cannot edit a message authored by another user")
		return
	}
	e.editMessageLocked(m, &b, files)
	writeJSON(w, 200, e.messageJSON(m))
}

func (e *Emulator) editMessageLocked(m *Message, b *messageBody, files []Attachment) {
	e.applyBody(m, b, files)
	m.Flags &^= 1 << 7 // a deferred "thinking" message stops loading once edited
	now := time.Now().UTC()
	m.EditedTimestamp = &now
	if !m.Ephemeral {
		e.dispatchMessage("MESSAGE_UPDATE", m)
	}
}

func (e *Emulator) deleteMessage(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(w, r)
	if c == nil {
		return
	}
	id, _ := pathID(r, "m")
	m := e.findChannelMessage(c.ID, id)
	if m == nil {
		notFound(w, codeUnknownMessage)
		return
	}
	if m.AuthorID != e.appID && (c.GuildID == 0 || e.guilds[c.GuildID].permissions(e.appID)&PermManageMessages == 0) {
		forbidden(w)
		return
	}
	e.removeMessageLocked(m)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) removeMessageLocked(m *Message) {
	m.Deleted = true
	e.messages[m.ChannelID] = slices.DeleteFunc(e.messages[m.ChannelID], func(x *Message) bool { return x == m })
	if m.Ephemeral {
		return
	}
	d := obj{"id": m.ID, "channel_id": m.ChannelID}
	intent := int64(IntentDirectMessages)
	if m.GuildID != 0 {
		d["guild_id"] = m.GuildID
		intent = IntentGuildMessages
	}
	e.dispatch(m.GuildID, "MESSAGE_DELETE", d, intent, nil)
}

func (e *Emulator) addReaction(w http.ResponseWriter, r *http.Request) {
	e.react(w, r, true)
}

func (e *Emulator) removeReaction(w http.ResponseWriter, r *http.Request) {
	e.react(w, r, false)
}

func (e *Emulator) react(w http.ResponseWriter, r *http.Request, add bool) {
	emoji := r.PathValue("emoji")
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channelLocked(w, r)
	if c == nil {
		return
	}
	id, _ := pathID(r, "m")
	m := e.findChannelMessage(c.ID, id)
	if m == nil {
		notFound(w, codeUnknownMessage)
		return
	}
	if emoji == "" {
		apiError(w, http.StatusBadRequest, 10014, "Unknown Emoji")
		return
	}
	changed := e.reactLocked(m, emoji, e.appID, add)
	if changed {
		t := "MESSAGE_REACTION_ADD"
		if !add {
			t = "MESSAGE_REACTION_REMOVE"
		}
		d := obj{"user_id": e.appID, "channel_id": m.ChannelID, "message_id": m.ID, "emoji": emojiJSON(emoji),
			"burst": false, "type": 0}
		intent := int64(1 << 13) // DIRECT_MESSAGE_REACTIONS
		if m.GuildID != 0 {
			d["guild_id"] = m.GuildID
			intent = IntentGuildReactions
		}
		e.dispatch(m.GuildID, t, d, intent, nil)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) reactLocked(m *Message, emoji string, uid ID, add bool) bool {
	for i, re := range m.Reactions {
		if re.Emoji != emoji {
			continue
		}
		has := slices.Contains(re.Users, uid)
		switch {
		case add && !has:
			re.Users = append(re.Users, uid)
			return true
		case !add && has:
			re.Users = slices.DeleteFunc(re.Users, func(x ID) bool { return x == uid })
			if len(re.Users) == 0 {
				m.Reactions = append(m.Reactions[:i], m.Reactions[i+1:]...)
			}
			return true
		}
		return false
	}
	if !add {
		return false
	}
	m.Reactions = append(m.Reactions, &Reaction{Emoji: emoji, Users: []ID{uid}})
	return true
}

// --- guilds, members, roles, bans -------------------------------------------

func (e *Emulator) guildLocked(w http.ResponseWriter, r *http.Request) *Guild {
	id, _ := pathID(r, "g")
	g := e.guilds[id]
	if g == nil || g.Members[e.appID] == nil {
		notFound(w, codeUnknownGuild)
		return nil
	}
	return g
}

func (e *Emulator) getGuild(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g := e.guildLocked(w, r); g != nil {
		writeJSON(w, 200, e.guildJSON(g))
	}
}

func (e *Emulator) getRoles(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g := e.guildLocked(w, r); g != nil {
		out := []obj{}
		for _, ro := range g.Roles {
			out = append(out, e.roleJSON(ro))
		}
		writeJSON(w, 200, out)
	}
}

func (e *Emulator) getGuildChannels(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g := e.guildLocked(w, r); g != nil {
		out := []obj{}
		for _, cid := range g.Channels {
			out = append(out, e.channelJSON(e.channels[cid]))
		}
		writeJSON(w, 200, out)
	}
}

func (e *Emulator) listMembers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := queryLimit(w, q.Get("limit"), 1, 1000)
	if !ok {
		return
	}
	after, _ := snowflake.Parse(q.Get("after"))
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guildLocked(w, r)
	if g == nil {
		return
	}
	ids := make([]ID, 0, len(g.Members))
	for id := range g.Members {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := []obj{}
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		out = append(out, e.memberJSON(g, g.Members[id], true))
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) memberLocked(w http.ResponseWriter, r *http.Request) (*Guild, *Member) {
	g := e.guildLocked(w, r)
	if g == nil {
		return nil, nil
	}
	uid, _ := pathID(r, "u")
	m := g.Members[uid]
	if m == nil {
		notFound(w, codeUnknownMember)
		return nil, nil
	}
	return g, m
}

func (e *Emulator) getMember(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g, m := e.memberLocked(w, r); m != nil {
		writeJSON(w, 200, e.memberJSON(g, m, true))
	}
}

// highestRole is the top role position of a member (owner is above all).
func (g *Guild) highestRole(uid ID) int {
	if uid == g.OwnerID {
		return 1 << 30
	}
	top := 0
	if m := g.Members[uid]; m != nil {
		for _, rid := range m.Roles {
			if r := g.role(rid); r != nil && r.Position > top {
				top = r.Position
			}
		}
	}
	return top
}

// canActOn mirrors Discord's hierarchy rule: nobody acts on the owner, and
// the bot's top role must be above the target's.
func (g *Guild) canActOn(actor, target ID) bool {
	if target == g.OwnerID {
		return false
	}
	if actor == g.OwnerID {
		return true
	}
	return g.highestRole(actor) > g.highestRole(target)
}

func (e *Emulator) emitMemberUpdate(g *Guild, m *Member) {
	d := e.memberJSON(g, m, true)
	d["guild_id"] = g.ID
	e.dispatch(g.ID, "GUILD_MEMBER_UPDATE", d, IntentGuildMembers, nil)
}

func (e *Emulator) emitMemberRemove(g *Guild, uid ID) {
	e.dispatch(g.ID, "GUILD_MEMBER_REMOVE", obj{"guild_id": g.ID, "user": e.userByID(uid)}, IntentGuildMembers, nil)
}

func (e *Emulator) patchMember(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if _, err := decodeBody(r, &body); err != nil {
		badJSON(w)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	g, m := e.memberLocked(w, r)
	if m == nil {
		return
	}
	perms := g.permissions(e.appID)
	fe := formErrors{}
	var (
		newRoles []ID
		setRoles bool
		nick     *string
		setNick  bool
		timeout  *time.Time
		setTO    bool
	)
	if raw, ok := body["roles"]; ok {
		setRoles = true
		if present(raw) && json.Unmarshal(raw, &newRoles) != nil {
			fe.add("roles", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
		}
		for i, rid := range newRoles {
			if g.role(rid) == nil || rid == g.ID {
				fe.add("roles."+strconv.Itoa(i), "UNKNOWN_ROLE", "Unknown role")
			}
		}
		if perms&PermManageRoles == 0 {
			forbidden(w)
			return
		}
		for _, rid := range symmetricDiff(m.Roles, newRoles) {
			if ro := g.role(rid); ro != nil && ro.Position >= g.highestRole(e.appID) {
				forbidden(w)
				return
			}
		}
	}
	if raw, ok := body["nick"]; ok {
		setNick = true
		if present(raw) {
			var s string
			if json.Unmarshal(raw, &s) != nil || len([]rune(s)) > 32 {
				fe.add("nick", "BASE_TYPE_MAX_LENGTH", "Must be 32 or fewer in length.")
			} else if s != "" {
				nick = &s
			}
		}
		if perms&(1<<27) == 0 { // MANAGE_NICKNAMES
			forbidden(w)
			return
		}
	}
	if raw, ok := body["communication_disabled_until"]; ok {
		setTO = true
		if present(raw) {
			var t time.Time
			if json.Unmarshal(raw, &t) != nil {
				fe.add("communication_disabled_until", "DATE_TYPE_PARSE", "Could not parse date.")
			} else if t.After(time.Now().Add(28*24*time.Hour + time.Minute)) {
				fe.add("communication_disabled_until", "COMMUNICATION_DISABLED_UNTIL_TOO_LONG",
					"Communication disabled until cannot be more than 28 days in the future.")
			} else {
				t = t.UTC()
				timeout = &t
			}
		}
		if perms&PermModerateMembers == 0 || g.permissions(m.UserID)&PermAdministrator != 0 {
			forbidden(w)
			return
		}
	}
	if fe.write(w) {
		return
	}
	if (setTO || setNick) && m.UserID != e.appID && !g.canActOn(e.appID, m.UserID) {
		forbidden(w)
		return
	}
	if setRoles {
		m.Roles = dedupe(newRoles)
	}
	if setNick {
		m.Nick = nick
	}
	if setTO {
		m.CommunicationDisabledUntil = timeout
	}
	e.emitMemberUpdate(g, m)
	writeJSON(w, 200, e.memberJSON(g, m, true))
}

func dedupe(ids []ID) []ID {
	out := []ID{}
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func symmetricDiff(a, b []ID) []ID {
	var out []ID
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}

func (e *Emulator) memberRole(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, m := e.memberLocked(w, r)
	if m == nil {
		return
	}
	rid, _ := pathID(r, "r")
	ro := g.role(rid)
	if ro == nil || rid == g.ID {
		notFound(w, codeUnknownRole)
		return
	}
	if g.permissions(e.appID)&PermManageRoles == 0 || ro.Position >= g.highestRole(e.appID) || ro.Managed {
		forbidden(w)
		return
	}
	has := slices.Contains(m.Roles, rid)
	switch {
	case r.Method == http.MethodPut && !has:
		m.Roles = append(m.Roles, rid)
		e.emitMemberUpdate(g, m)
	case r.Method == http.MethodDelete && has:
		m.Roles = slices.DeleteFunc(m.Roles, func(x ID) bool { return x == rid })
		e.emitMemberUpdate(g, m)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) kickMember(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, m := e.memberLocked(w, r)
	if m == nil {
		return
	}
	if g.permissions(e.appID)&PermKickMembers == 0 || !g.canActOn(e.appID, m.UserID) {
		forbidden(w)
		return
	}
	g.removeMember(m.UserID)
	e.emitMemberRemove(g, m.UserID)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) banJSON(b *Ban) obj {
	return obj{"reason": nilIfEmpty(b.Reason), "user": e.userByID(b.UserID)}
}

func (e *Emulator) listBans(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guildLocked(w, r)
	if g == nil {
		return
	}
	if g.permissions(e.appID)&PermBanMembers == 0 {
		forbidden(w)
		return
	}
	ids := make([]ID, 0, len(g.Bans))
	for id := range g.Bans {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := []obj{}
	for _, id := range ids {
		out = append(out, e.banJSON(g.Bans[id]))
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) getBan(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guildLocked(w, r)
	if g == nil {
		return
	}
	uid, _ := pathID(r, "u")
	b := g.Bans[uid]
	if b == nil {
		notFound(w, codeUnknownBan)
		return
	}
	writeJSON(w, 200, e.banJSON(b))
}

func (e *Emulator) putBan(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DeleteMessageSeconds int `json:"delete_message_seconds"`
		DeleteMessageDays    int `json:"delete_message_days"`
	}
	if _, err := decodeBody(r, &body); err != nil {
		badJSON(w)
		return
	}
	if body.DeleteMessageSeconds < 0 || body.DeleteMessageSeconds > 604800 {
		fe := formErrors{}
		fe.add("delete_message_seconds", "NUMBER_TYPE_MAX", "int value should be less than or equal to 604800.")
		fe.write(w)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guildLocked(w, r)
	if g == nil {
		return
	}
	uid, _ := pathID(r, "u")
	if e.users[uid] == nil {
		notFound(w, codeUnknownUser)
		return
	}
	if g.permissions(e.appID)&PermBanMembers == 0 || !g.canActOn(e.appID, uid) {
		forbidden(w)
		return
	}
	if g.Bans[uid] == nil {
		g.Bans[uid] = &Ban{UserID: uid, Reason: r.Header.Get("X-Audit-Log-Reason")}
		e.dispatch(g.ID, "GUILD_BAN_ADD", obj{"guild_id": g.ID, "user": e.userByID(uid)}, IntentGuildModeration, nil)
	}
	if g.Members[uid] != nil {
		g.removeMember(uid)
		e.emitMemberRemove(g, uid)
	}
	secs := body.DeleteMessageSeconds
	if secs == 0 {
		secs = body.DeleteMessageDays * 86400
	}
	if secs > 0 {
		cutoff := time.Now().Add(-time.Duration(secs) * time.Second)
		for _, cid := range g.Channels {
			for _, m := range slices.Clone(e.messages[cid]) {
				if m.AuthorID == uid && m.Timestamp.After(cutoff) {
					e.removeMessageLocked(m)
				}
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) deleteBan(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guildLocked(w, r)
	if g == nil {
		return
	}
	uid, _ := pathID(r, "u")
	if g.permissions(e.appID)&PermBanMembers == 0 {
		forbidden(w)
		return
	}
	if g.Bans[uid] == nil {
		notFound(w, codeUnknownBan)
		return
	}
	delete(g.Bans, uid)
	e.dispatch(g.ID, "GUILD_BAN_REMOVE", obj{"guild_id": g.ID, "user": e.userByID(uid)}, IntentGuildModeration, nil)
	w.WriteHeader(http.StatusNoContent)
}
