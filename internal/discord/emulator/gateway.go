package emulator

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Gateway opcodes.
const (
	opDispatch       = 0
	opHeartbeat      = 1
	opIdentify       = 2
	opPresenceUpdate = 3
	opVoiceState     = 4
	opResume         = 6
	opReconnect      = 7
	opRequestMembers = 8
	opInvalidSession = 9
	opHello          = 10
	opHeartbeatACK   = 11
)

// maxReplay bounds the per-session replay buffer; a RESUME older than that
// gets INVALID_SESSION, like Discord's limited resume window.
const maxReplay = 5000

type gatewayState struct {
	mu       sync.Mutex
	sessions map[string]*session
	order    []*session
	conns    map[*wsConn]struct{}
}

func (g *gatewayState) init() {
	g.sessions = map[string]*session{}
	g.conns = map[*wsConn]struct{}{}
}

func (g *gatewayState) closeAll() {
	g.mu.Lock()
	conns := make([]*wsConn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.closeNow()
	}
}

type replayEvent struct {
	seq   int
	frame []byte
}

type session struct {
	id         string
	token      string
	shardID    int
	shardCount int
	intents    int64

	mu         sync.Mutex
	seq        int
	buf        []replayEvent
	conn       *wsConn
	invalid    bool
	resumes    int
	heartbeats int // on the current connection
	identified time.Time
}

// SessionInfo describes a gateway session for tests and the control API.
type SessionInfo struct {
	ID         string `json:"session_id"`
	ShardID    int    `json:"shard_id"`
	ShardCount int    `json:"shard_count"`
	Intents    int64  `json:"intents"`
	Connected  bool   `json:"connected"`
	Invalid    bool   `json:"invalid"`
	Seq        int    `json:"seq"`
	Resumes    int    `json:"resumes"`
	// Heartbeats counts heartbeats on the current connection.
	Heartbeats int `json:"heartbeats"`
}

func shardFor(guildID ID, count int) int {
	if count <= 1 {
		return 0
	}
	return int((uint64(guildID) >> 22) % uint64(count))
}

type outFrame struct {
	data  []byte
	close bool
	code  int
	text  string
}

// wsConn serialises writes through one goroutine so dispatches never block
// emulator state changes on a slow client.
type wsConn struct {
	ws   *websocket.Conn
	out  chan outFrame
	done chan struct{}
	once sync.Once
	zlib bool
	// closing is set once a close frame is queued, so teardown waits for the
	// writer to deliver it instead of cutting the socket first.
	closing atomic.Bool
}

func (c *wsConn) send(b []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- outFrame{data: b}:
		return true
	default:
		c.closeNow() // client too slow; Discord would drop it too
		return false
	}
}

func (c *wsConn) sendClose(code int, text string) {
	c.closing.Store(true)
	select {
	case c.out <- outFrame{close: true, code: code, text: text}:
	default:
		c.closeNow()
	}
}

// closeNow drops the TCP connection without a close frame, which clients
// treat as a network failure and answer with RESUME.
func (c *wsConn) closeNow() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

func (c *wsConn) writer() {
	var zbuf bytes.Buffer
	var zw *zlib.Writer
	if c.zlib {
		zw = zlib.NewWriter(&zbuf)
	}
	for {
		select {
		case <-c.done:
			return
		case f := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if f.close {
				_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(f.code, f.text))
				// give the peer a moment to read the close frame before the socket goes
				time.AfterFunc(100*time.Millisecond, c.closeNow)
				return
			}
			var err error
			if zw != nil {
				zbuf.Reset()
				if _, err = zw.Write(f.data); err == nil {
					err = zw.Flush() // Z_SYNC_FLUSH: what zlib-stream clients look for
				}
				if err == nil {
					err = c.ws.WriteMessage(websocket.BinaryMessage, zbuf.Bytes())
				}
			} else {
				err = c.ws.WriteMessage(websocket.TextMessage, f.data)
			}
			if err != nil {
				c.closeNow()
				return
			}
		}
	}
}

func frame(op int, d any) []byte {
	b, _ := json.Marshal(obj{"op": op, "d": d, "s": nil, "t": nil})
	return b
}

func dispatchFrame(seq int, t string, d json.RawMessage) []byte {
	return fmt.Appendf(nil, `{"op":0,"s":%d,"t":%q,"d":%s}`, seq, t, d)
}

var upgrader = websocket.Upgrader{
	CheckOrigin:     func(*http.Request) bool { return true },
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
}

func (e *Emulator) serveGateway(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	compress := q.Get("compress")
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &wsConn{ws: ws, out: make(chan outFrame, 4096), done: make(chan struct{}), zlib: compress == "zlib-stream"}
	e.gw.mu.Lock()
	e.gw.conns[c] = struct{}{}
	e.gw.mu.Unlock()
	go c.writer()
	defer func() {
		e.gw.mu.Lock()
		delete(e.gw.conns, c)
		e.gw.mu.Unlock()
	}()

	switch {
	case compress == "zstd-stream":
		// 4012 is not retried by disgo, so a misconfigured bot fails fast with this text.
		c.sendClose(4012, "emulator: zstd-stream unsupported, use gateway.WithCompression(gateway.CompressionNone)")
		<-c.done
		return
	case compress != "" && compress != "zlib-stream" && compress != "false":
		c.sendClose(4002, "unsupported compression")
		<-c.done
		return
	case q.Get("v") != "" && q.Get("v") != "10":
		c.sendClose(4012, "Invalid API version.")
		<-c.done
		return
	case q.Get("encoding") != "" && q.Get("encoding") != "json":
		c.sendClose(4002, "only encoding=json is emulated")
		<-c.done
		return
	}

	interval := e.opts.HeartbeatInterval
	timeout := interval*3/2 + min(interval/2, 5*time.Second)
	c.send(frame(opHello, obj{"heartbeat_interval": interval.Milliseconds()}))
	_ = ws.SetReadDeadline(time.Now().Add(timeout))
	ws.SetReadLimit(1 << 20)

	var sess *session
	defer func() {
		if c.closing.Load() {
			select {
			case <-c.done:
			case <-time.After(2 * time.Second):
			}
		}
		c.closeNow()
		if sess != nil {
			sess.mu.Lock()
			if sess.conn == c {
				sess.conn = nil
			}
			sess.mu.Unlock()
		}
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			var ne net.Error
			switch {
			case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway):
				// a clean close ends the session, as on Discord
				if sess != nil {
					sess.mu.Lock()
					sess.invalid = true
					sess.mu.Unlock()
				}
			case errors.As(err, &ne) && ne.Timeout():
				e.log.Debug("gateway heartbeat timeout", "session", sessID(sess))
				c.sendClose(4009, "Session timed out.")
			}
			return
		}
		var msg struct {
			Op int             `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			c.sendClose(4002, "Error while decoding payload.")
			return
		}
		switch msg.Op {
		case opHeartbeat:
			_ = ws.SetReadDeadline(time.Now().Add(timeout))
			c.send(frame(opHeartbeatACK, nil))
			if sess != nil {
				sess.mu.Lock()
				if sess.conn == c {
					sess.heartbeats++
				}
				sess.mu.Unlock()
			}
		case opIdentify:
			if sess != nil {
				c.sendClose(4005, "Already authenticated.")
				return
			}
			s, code, text := e.identify(c, msg.D)
			if code != 0 {
				c.sendClose(code, text)
				return
			}
			sess = s
		case opResume:
			if sess != nil {
				c.sendClose(4005, "Already authenticated.")
				return
			}
			s, code, text := e.resume(c, msg.D)
			if code != 0 {
				c.sendClose(code, text)
				return
			}
			sess = s // nil when INVALID_SESSION was sent
		case opPresenceUpdate, opVoiceState:
			if sess == nil {
				c.sendClose(4003, "Not authenticated.")
				return
			}
		case opRequestMembers:
			if sess == nil {
				c.sendClose(4003, "Not authenticated.")
				return
			}
			e.requestMembers(sess, msg.D)
		default:
			c.sendClose(4001, "Unknown opcode.")
			return
		}
	}
}

func sessID(s *session) string {
	if s == nil {
		return ""
	}
	return s.id
}

func (e *Emulator) validToken(tok string) bool {
	return e.tokens[strings.TrimPrefix(tok, "Bot ")]
}

func (e *Emulator) identify(c *wsConn, raw json.RawMessage) (*session, int, string) {
	var d struct {
		Token   string `json:"token"`
		Intents int64  `json:"intents"`
		Shard   *[2]int
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, 4002, "Error while decoding payload."
	}
	if !e.validToken(d.Token) {
		return nil, 4004, "Authentication failed."
	}
	shard := [2]int{0, 1}
	if d.Shard != nil {
		shard = *d.Shard
	}
	if shard[1] < 1 || shard[0] < 0 || shard[0] >= shard[1] {
		return nil, 4010, "Invalid shard."
	}
	if d.Intents < 0 || d.Intents >= 1<<26 {
		return nil, 4013, "Invalid intent(s)."
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := &session{id: hex.EncodeToString(b[:]), token: d.Token, shardID: shard[0], shardCount: shard[1],
		intents: d.Intents, identified: time.Now()}

	// Holding e.mu while queueing READY and GUILD_CREATE means no state change
	// can slip between the snapshot and the first live dispatch.
	e.mu.Lock()
	defer e.mu.Unlock()
	var guilds []*Guild
	unavailable := []obj{}
	for _, gid := range e.guildOrder {
		g := e.guilds[gid]
		if g == nil || g.Members[e.appID] == nil || shardFor(gid, shard[1]) != shard[0] {
			continue
		}
		guilds = append(guilds, g)
		unavailable = append(unavailable, obj{"id": gid, "unavailable": true})
	}
	ready := obj{
		"v": 10, "user": e.userByID(e.appID), "guilds": unavailable, "session_id": s.id,
		"resume_gateway_url": e.GatewayURL(), "shard": shard, "private_channels": []any{},
		"application":  obj{"id": e.appID, "flags": 1 << 19},
		"session_type": "normal", "relationships": []any{}, "guild_join_requests": []any{},
	}
	e.gw.mu.Lock()
	e.gw.sessions[s.id] = s
	e.gw.order = append(e.gw.order, s)
	e.gw.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
	s.emit(e, "READY", mustJSON(ready))
	for _, g := range guilds {
		s.emit(e, "GUILD_CREATE", mustJSON(e.gatewayGuildJSON(g)))
	}
	e.log.Debug("gateway identify", "session", s.id, "shard", shard, "intents", d.Intents)
	return s, 0, ""
}

func (e *Emulator) resume(c *wsConn, raw json.RawMessage) (*session, int, string) {
	var d struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int    `json:"seq"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, 4002, "Error while decoding payload."
	}
	if !e.validToken(d.Token) {
		return nil, 4004, "Authentication failed."
	}
	e.gw.mu.Lock()
	s := e.gw.sessions[d.SessionID]
	e.gw.mu.Unlock()
	if s == nil {
		c.send(frame(opInvalidSession, false))
		return nil, 0, ""
	}
	s.mu.Lock()
	if s.invalid || s.token != d.Token || d.Seq > s.seq || (len(s.buf) > 0 && s.buf[0].seq > d.Seq+1) {
		s.mu.Unlock()
		c.send(frame(opInvalidSession, false))
		return nil, 0, ""
	}
	old := s.conn
	s.conn = c
	s.heartbeats = 0
	s.resumes++
	for _, ev := range s.buf {
		if ev.seq > d.Seq {
			c.send(ev.frame)
		}
	}
	s.emit(e, "RESUMED", json.RawMessage("null"))
	s.mu.Unlock()
	if old != nil && old != c {
		old.closeNow()
	}
	e.log.Debug("gateway resume", "session", s.id, "from_seq", d.Seq)
	return s, 0, ""
}

// emit assigns the next sequence number, remembers the event for RESUME and
// sends it if connected. Caller holds s.mu.
func (s *session) emit(e *Emulator, t string, d json.RawMessage) {
	s.seq++
	f := dispatchFrame(s.seq, t, d)
	s.buf = append(s.buf, replayEvent{seq: s.seq, frame: f})
	if len(s.buf) > maxReplay {
		s.buf = s.buf[len(s.buf)-maxReplay:]
	}
	if s.conn != nil {
		s.conn.send(f)
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// dispatch fans an event out to every live session of the shard owning
// guildID (DMs: shard 0) whose intents include intent (0 = always sent).
// stripped, if non-nil, is sent instead to sessions lacking MESSAGE_CONTENT.
func (e *Emulator) dispatch(guildID ID, t string, d any, intent int64, stripped any) {
	full := mustJSON(d)
	var strippedJSON json.RawMessage
	e.gw.mu.Lock()
	sessions := make([]*session, 0, len(e.gw.order))
	live := e.gw.order[:0]
	for _, s := range e.gw.order {
		s.mu.Lock()
		inv := s.invalid
		s.mu.Unlock()
		if inv {
			delete(e.gw.sessions, s.id)
			continue
		}
		live = append(live, s)
		sessions = append(sessions, s)
	}
	clear(e.gw.order[len(live):])
	e.gw.order = live
	e.gw.mu.Unlock()
	for _, s := range sessions {
		if shardFor(guildID, s.shardCount) != s.shardID {
			continue
		}
		if intent != 0 && s.intents&intent == 0 {
			continue
		}
		payload := full
		if stripped != nil && s.intents&IntentMessageContent == 0 {
			if strippedJSON == nil {
				strippedJSON = mustJSON(stripped)
			}
			payload = strippedJSON
		}
		s.mu.Lock()
		if !s.invalid {
			s.emit(e, t, payload)
		}
		s.mu.Unlock()
	}
}

func (e *Emulator) requestMembers(s *session, raw json.RawMessage) {
	var d struct {
		GuildID ID     `json:"guild_id"`
		Query   string `json:"query"`
		Limit   int    `json:"limit"`
		UserIDs []ID   `json:"user_ids"`
		Nonce   string `json:"nonce"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guilds[d.GuildID]
	if g == nil {
		return
	}
	members := []obj{}
	for _, m := range g.orderedMembers() {
		u := e.users[m.UserID]
		if len(d.UserIDs) > 0 {
			found := false
			for _, id := range d.UserIDs {
				found = found || id == m.UserID
			}
			if !found {
				continue
			}
		} else if u == nil || !strings.HasPrefix(strings.ToLower(u.Username), strings.ToLower(d.Query)) {
			continue
		}
		members = append(members, e.memberJSON(g, m, true))
		if d.Limit > 0 && len(members) >= d.Limit {
			break
		}
	}
	chunk := obj{"guild_id": g.ID, "members": members, "chunk_index": 0, "chunk_count": 1}
	if d.Nonce != "" {
		chunk["nonce"] = d.Nonce
	}
	s.mu.Lock()
	s.emit(e, "GUILD_MEMBERS_CHUNK", mustJSON(chunk))
	s.mu.Unlock()
}

// GatewayAction is what the control API can do to live sessions.
type GatewayAction string

// Gateway actions.
const (
	// ActionReconnect sends op 7 RECONNECT; the client should resume.
	ActionReconnect GatewayAction = "reconnect"
	// ActionDrop cuts the TCP connection without a close frame.
	ActionDrop GatewayAction = "drop"
	// ActionInvalidate sends op 9 INVALID_SESSION (not resumable).
	ActionInvalidate GatewayAction = "invalidate"
)

// Gateway applies action to every session of shard (shard < 0: all shards)
// and returns how many sessions were affected.
func (e *Emulator) Gateway(action GatewayAction, shard int) (int, error) {
	e.gw.mu.Lock()
	sessions := append([]*session(nil), e.gw.order...)
	e.gw.mu.Unlock()
	n := 0
	for _, s := range sessions {
		if shard >= 0 && s.shardID != shard {
			continue
		}
		s.mu.Lock()
		c := s.conn
		if s.invalid || (c == nil && action != ActionInvalidate) {
			s.mu.Unlock()
			continue
		}
		switch action {
		case ActionReconnect:
			c.send(frame(opReconnect, nil))
		case ActionDrop:
			s.conn = nil
			c.closeNow()
		case ActionInvalidate:
			s.invalid = true
			if c != nil {
				c.send(frame(opInvalidSession, false))
			}
		default:
			s.mu.Unlock()
			return 0, fmt.Errorf("unknown gateway action %q", action)
		}
		s.mu.Unlock()
		n++
	}
	return n, nil
}

// Sessions lists gateway sessions that are still resumable or connected.
func (e *Emulator) Sessions() []SessionInfo {
	e.gw.mu.Lock()
	sessions := append([]*session(nil), e.gw.order...)
	e.gw.mu.Unlock()
	out := []SessionInfo{}
	for _, s := range sessions {
		s.mu.Lock()
		out = append(out, SessionInfo{ID: s.id, ShardID: s.shardID, ShardCount: s.shardCount, Intents: s.intents,
			Connected: s.conn != nil, Invalid: s.invalid, Seq: s.seq, Resumes: s.resumes, Heartbeats: s.heartbeats})
		s.mu.Unlock()
	}
	return out
}
