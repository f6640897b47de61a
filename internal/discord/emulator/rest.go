package emulator

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type authMode int

const (
	authBot authMode = iota
	authBotOrBearer
	authBearer
	authNone
)

type caller struct {
	bot    bool
	userID ID
	scopes []string
}

type callerKey struct{}

func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

// LogEntry is one REST call seen by the emulator.
type LogEntry struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Route  string    `json:"route"` // pattern, e.g. /guilds/{g}/bans/{u}
	Path   string    `json:"path"`
	Status int       `json:"status"`
	Fault  bool      `json:"fault,omitempty"`
}

// FaultSpec makes REST calls matching Route fail. Route is "METHOD /path" or
// just "/path" (any method); path parameters may use any name in braces, e.g.
// "PUT /guilds/{guild.id}/bans/{user.id}" matches the emulator's
// "/guilds/{g}/bans/{u}".
type FaultSpec struct {
	Route string `json:"route"`
	// Status is 429, or a 5xx such as 500, 502, 503.
	Status int `json:"status"`
	// Count is how many calls fail; 0 means every call until cleared.
	Count int `json:"count"`
	// RetryAfter (seconds) for 429 bodies; default 0.05. The Retry-After
	// header is rounded up to whole seconds, as Discord does.
	RetryAfter float64 `json:"retry_after"`
	// Global marks the 429 as a global rate limit.
	Global bool `json:"global"`
}

type fault struct {
	FaultSpec
	method, path string
	remaining    int
}

type bucketState struct {
	windowEnd time.Time
	remaining int
}

const bucketLimit = 50

var paramRe = regexp.MustCompile(`\{[^}]*\}`)

// normalizeRoute reduces "PUT /api/v10/guilds/{guild.id}/bans/{x}" to
// ("PUT", "/guilds/{}/bans/{}") so faults match whatever names tests use.
func normalizeRoute(s string) (method, path string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ' '); i > 0 {
		method, s = strings.ToUpper(s[:i]), strings.TrimSpace(s[i+1:])
	}
	s = strings.TrimPrefix(s, "/api/v10")
	s = strings.TrimSuffix(s, "/")
	return method, paramRe.ReplaceAllString(s, "{}")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// --- responses ---------------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, obj{"message": msg, "code": code})
}

// Discord JSON error codes used by the emulator.
const (
	codeUnknownChannel     = 10003
	codeUnknownGuild       = 10004
	codeUnknownMember      = 10007
	codeUnknownMessage     = 10008
	codeUnknownRole        = 10011
	codeUnknownUser        = 10013
	codeUnknownBan         = 10026
	codeUnknownInteraction = 10062
	codeUnknownCommand     = 10063
	codeMissingAccess      = 50001
	codeCannotEditOther    = 50005
	codeEmptyMessage       = 50006
	codeMissingPermissions = 50013
	codeInvalidFormBody    = 50035
	codeAlreadyAcked       = 40060
)

func notFound(w http.ResponseWriter, code int) {
	names := map[int]string{
		codeUnknownChannel: "Unknown Channel", codeUnknownGuild: "Unknown Guild", codeUnknownMember: "Unknown Member",
		codeUnknownMessage: "Unknown Message", codeUnknownRole: "Unknown Role", codeUnknownUser: "Unknown User",
		codeUnknownBan: "Unknown Ban", codeUnknownInteraction: "Unknown interaction",
		codeUnknownCommand: "Unknown application command", 10002: "Unknown Application",
	}
	apiError(w, http.StatusNotFound, code, names[code])
}

func forbidden(w http.ResponseWriter) {
	apiError(w, http.StatusForbidden, codeMissingPermissions, "Missing Permissions")
}

// formErrors accumulates Discord's nested 50035 "errors" object.
type formErrors obj

func (f formErrors) add(path string, code, msg string) {
	cur := obj(f)
	for _, p := range strings.Split(path, ".") {
		next, ok := cur[p].(obj)
		if !ok {
			next = obj{}
			cur[p] = next
		}
		cur = next
	}
	list, _ := cur["_errors"].([]obj)
	cur["_errors"] = append(list, obj{"code": code, "message": msg})
}

// write sends a 400 if any error was added and reports whether it did.
func (f formErrors) write(w http.ResponseWriter) bool {
	if len(f) == 0 {
		return false
	}
	writeJSON(w, http.StatusBadRequest, obj{"code": codeInvalidFormBody, "message": "Invalid Form Body", "errors": obj(f)})
	return true
}

func badJSON(w http.ResponseWriter) {
	apiError(w, http.StatusBadRequest, codeInvalidFormBody, "Invalid Form Body")
}

// decodeBody reads JSON, or multipart with payload_json plus files (what
// disgo sends when a message carries files). Files become attachments.
func decodeBody(r *http.Request, v any) ([]Attachment, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			b = []byte("{}")
		}
		return nil, json.Unmarshal(b, v)
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var files []Attachment
	gotPayload := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(p, 32<<20))
		if err != nil {
			return nil, err
		}
		if p.FormName() == "payload_json" {
			gotPayload = true
			if err := json.Unmarshal(data, v); err != nil {
				return nil, err
			}
			continue
		}
		if p.FileName() != "" {
			files = append(files, Attachment{Filename: p.FileName(), Size: len(data), ContentType: p.Header.Get("Content-Type")})
		}
	}
	if !gotPayload {
		return files, json.Unmarshal([]byte("{}"), v)
	}
	return files, nil
}

// --- router -----------------------------------------------------------------

type restRouter struct {
	mux  *http.ServeMux
	auth map[string]authMode
}

func (rr *restRouter) handle(pattern string, mode authMode, h http.HandlerFunc) {
	rr.mux.HandleFunc(pattern, h)
	rr.auth[pattern] = mode
}

// serveREST wraps every /api/v10 call with auth, faults, rate-limit headers
// and the call log, so individual handlers only implement Discord semantics.
func (e *Emulator) serveREST(rr *restRouter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/api/v10")
		r2 := r.Clone(r.Context())
		r2.URL.Path = path
		r2.URL.RawPath = ""
		_, pattern := rr.mux.Handler(r2)
		rec := &statusRecorder{ResponseWriter: w}
		route := pattern
		if i := strings.IndexByte(pattern, ' '); i >= 0 {
			route = pattern[i+1:]
		}
		faulted := false
		defer func() {
			if route == "" {
				route = path
			}
			e.restMu.Lock()
			e.callLog = append(e.callLog, LogEntry{Time: time.Now(), Method: r.Method, Route: route, Path: path,
				Status: rec.status, Fault: faulted})
			e.restMu.Unlock()
		}()
		w.Header().Set("Via", "1.1 google") // disgo treats 429s without Via as Cloudflare bans
		if pattern == "" {
			apiError(rec, http.StatusNotFound, 0, "404: Not Found")
			return
		}
		c, ok := e.authenticate(r, rr.auth[pattern])
		if !ok {
			apiError(rec, http.StatusUnauthorized, 0, "401: Unauthorized")
			return
		}
		e.rateLimitHeaders(w, r.Method, route, r2)
		if f := e.takeFault(r.Method, route); f != nil {
			faulted = true
			e.writeFault(rec, f)
			return
		}
		r2 = r2.WithContext(context.WithValue(r2.Context(), callerKey{}, c))
		rr.mux.ServeHTTP(rec, r2)
	})
}

func (e *Emulator) authenticate(r *http.Request, mode authMode) (caller, bool) {
	if mode == authNone {
		return caller{}, true
	}
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Bot ") && mode != authBearer:
		if e.tokens[strings.TrimPrefix(h, "Bot ")] {
			return caller{bot: true, userID: e.appID}, true
		}
	case strings.HasPrefix(h, "Bearer ") && mode != authBot:
		e.mu.Lock()
		t := e.oauthTokens[strings.TrimPrefix(h, "Bearer ")]
		e.mu.Unlock()
		if t != nil && time.Now().Before(t.expires) {
			return caller{userID: t.userID, scopes: t.scopes}, true
		}
	}
	return caller{}, false
}

func (e *Emulator) rateLimitHeaders(w http.ResponseWriter, method, route string, r *http.Request) {
	sum := sha1.Sum([]byte(method + " " + route))
	bucket := hex.EncodeToString(sum[:8])
	major := majorParam(r.URL.Path)
	now := time.Now()
	e.restMu.Lock()
	b := e.buckets[bucket+":"+major]
	if b == nil || now.After(b.windowEnd) {
		b = &bucketState{windowEnd: now.Add(time.Second), remaining: bucketLimit}
		e.buckets[bucket+":"+major] = b
	}
	if b.remaining > 0 {
		b.remaining--
	}
	remaining, end := b.remaining, b.windowEnd
	e.restMu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Bucket", bucket)
	h.Set("X-RateLimit-Limit", strconv.Itoa(bucketLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(end.Sub(now).Seconds(), 'f', 3, 64))
}

func majorParam(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 2 && (parts[0] == "guilds" || parts[0] == "channels" || parts[0] == "webhooks") {
		return parts[1]
	}
	return ""
}

func (e *Emulator) takeFault(method, route string) *fault {
	_, norm := normalizeRoute(route)
	e.restMu.Lock()
	defer e.restMu.Unlock()
	for i, f := range e.faults {
		if (f.method != "" && f.method != method) || f.path != norm {
			continue
		}
		if f.Count > 0 {
			f.remaining--
			if f.remaining <= 0 {
				e.faults = append(e.faults[:i], e.faults[i+1:]...)
			}
		}
		cp := *f
		return &cp
	}
	return nil
}

func (e *Emulator) writeFault(w http.ResponseWriter, f *fault) {
	if f.Status == http.StatusTooManyRequests {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 0.05
		}
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(ra))))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(ra, 'f', 3, 64))
		scope := "user"
		if f.Global {
			h.Set("X-RateLimit-Global", "true")
			scope = "global"
		}
		h.Set("X-RateLimit-Scope", scope)
		writeJSON(w, http.StatusTooManyRequests, obj{"message": "You are being rate limited.", "retry_after": ra, "global": f.Global})
		return
	}
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	apiError(w, status, 0, fmt.Sprintf("%d: %s", status, http.StatusText(status)))
}

// Fault installs a REST fault (see FaultSpec).
func (e *Emulator) Fault(spec FaultSpec) error {
	m, p := normalizeRoute(spec.Route)
	if p == "" {
		return fmt.Errorf("fault: route required")
	}
	if spec.Status != 429 && (spec.Status < 500 || spec.Status > 599) {
		return fmt.Errorf("fault: status must be 429 or 5xx, got %d", spec.Status)
	}
	e.restMu.Lock()
	e.faults = append(e.faults, &fault{FaultSpec: spec, method: m, path: p, remaining: spec.Count})
	e.restMu.Unlock()
	return nil
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.restMu.Lock()
	e.faults = nil
	e.restMu.Unlock()
}

// Log returns every REST call so far, oldest first.
func (e *Emulator) Log() []LogEntry {
	e.restMu.Lock()
	defer e.restMu.Unlock()
	return append([]LogEntry(nil), e.callLog...)
}

// ClearLog forgets past REST calls.
func (e *Emulator) ClearLog() {
	e.restMu.Lock()
	e.callLog = nil
	e.restMu.Unlock()
}
