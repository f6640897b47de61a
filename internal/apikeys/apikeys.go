// Package apikeys issues and checks the REST API's bearer keys. A key is
// "sdk_<prefix>_<secret>": the prefix is public and finds the row, the secret
// (32 bytes from crypto/rand) is shown once and only its SHA-256 is stored.
// A plain hash is enough for secrets of that entropy: there is nothing to
// brute-force, so a slow password hash would only cost latency per request.
package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Scope is what a key may do; each scope includes the ones below it.
type Scope string

const (
	Read  Scope = "read"  // every GET
	Write Scope = "write" // member actions: transfers, daily claims, joins, closing cases
	Admin Scope = "admin" // configuration, squad CRUD, adjustments
)

func (s Scope) rank() int {
	switch s {
	case Read:
		return 1
	case Write:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s.rank() > 0 }

// Allows reports whether a key of scope s may do what needs scope need.
func (s Scope) Allows(need Scope) bool { return s.rank() >= need.rank() && s.Valid() }

// ParseScope accepts "read", "write" or "admin".
func ParseScope(v string) (Scope, error) {
	s := Scope(strings.ToLower(strings.TrimSpace(v)))
	if !s.Valid() {
		return "", apperr.InvalidField("scope", "must be read, write or admin, got %q", v)
	}
	return s, nil
}

// Key is a stored key, without its secret.
type Key struct {
	ID         int64
	Prefix     string
	Name       string
	Scope      Scope
	GuildID    int64 // 0: every guild
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: active
	ExpiresAt  time.Time // zero: never
}

// Revoked reports whether the key was revoked.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Expired reports whether the key's time was up at now.
func (k Key) Expired(now time.Time) bool { return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) }

// ExpiryWarning is how long before a key's lifetime ends it counts as
// expiring: a week to rotate it and deploy the new one. The APIKeyExpiring
// alert and the dashboard's key tables both use it.
const ExpiryWarning = 7 * 24 * time.Hour

// ExpiresSoon says the key still works at now but stops within
// ExpiryWarning.
func (k Key) ExpiresSoon(now time.Time) bool { return k.expiresWithin(now, ExpiryWarning) }

func (k Key) expiresWithin(now time.Time, d time.Duration) bool {
	return !k.Revoked() && !k.ExpiresAt.IsZero() && !k.Expired(now) && k.ExpiresAt.Before(now.Add(d))
}

// Spec is a key to issue.
type Spec struct {
	Name    string
	Scope   Scope
	GuildID int64         // 0: every guild
	TTL     time.Duration // how long it works; 0: until revoked
}

// MaxTTL bounds a key's lifetime when one is set; MinTTL keeps a typo ("1m"
// for a month) from issuing a key that dies before it is deployed.
const (
	MinTTL = time.Hour
	MaxTTL = 5 * 365 * 24 * time.Hour
)

// ExpiredError: the presented key was right, but its time is up. Only a
// caller holding the secret learns this; it is still an ErrInvalidKey.
type ExpiredError struct{ At time.Time }

func (e *ExpiredError) Error() string {
	return "the API key expired at " + e.At.UTC().Format(time.RFC3339) + "; rotate it or create another"
}

func (e *ExpiredError) Is(target error) bool { return target == ErrInvalidKey }

// AllowsGuild reports whether the key may act in guild.
func (k Key) AllowsGuild(guild int64) bool { return k.GuildID == 0 || k.GuildID == guild }

func keyOf(r sqldb.ApiKey) Key {
	return Key{ID: r.ID, Prefix: r.Prefix, Name: r.Name, Scope: Scope(r.Scope), GuildID: r.GuildID.Int64,
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt.Time, RevokedAt: r.RevokedAt.Time, ExpiresAt: r.ExpiresAt.Time}
}

// ErrInvalidKey covers every way a presented key fails: malformed, unknown,
// wrong secret or revoked. Callers learn nothing about which, on purpose.
var ErrInvalidKey = errors.New("the API key is missing, malformed, unknown or revoked")

// Token format.
const (
	tokenPrefix  = "sdk_"
	prefixBytes  = 6  // 12 hex characters: public, looked up
	secretBytes  = 32 // 256 bits of entropy
	maxNameRunes = 100
)

// touchEvery bounds writes of last_used_at: at most one per key per interval.
const touchEvery = time.Minute

// Service creates, lists, revokes and checks keys.
type Service struct {
	db  *store.DB
	now func() time.Time

	mu      sync.Mutex
	touched map[int64]time.Time // key id -> last write of last_used_at by this process
	// verified caches keys that authenticated, by prefix, for verifiedFor:
	// a request then costs a hash, not a database read. Revoking drops the
	// entry here at once and, through the bus, in every other process.
	verified map[string]verifiedKey
	bus      bus.Bus
}

type verifiedKey struct {
	row  sqldb.ApiKey
	hash []byte // row.SecretHash, as the bytes compared on every request
	at   time.Time
}

// VerifiedFor bounds how long another process may accept a revoked key when
// the revocation notice cannot reach it (no shared Redis, or a lost message).
const VerifiedFor = 5 * time.Second

// TopicKeyRevoked carries the prefix of a revoked key to every process.
const TopicKeyRevoked = "apikeys.revoked"

// Listen makes revocations reach the verified-key caches of every process
// sharing the bus.
func (s *Service) Listen(ctx context.Context, b bus.Bus) error {
	s.mu.Lock()
	s.bus = b
	s.mu.Unlock()
	_, err := b.Subscribe(ctx, TopicKeyRevoked, func(m bus.Message) { s.forget(string(m.Payload)) })
	return err
}

func (s *Service) forget(prefix string) {
	s.mu.Lock()
	delete(s.verified, prefix)
	s.mu.Unlock()
}

// NewService returns a Service; now is the clock (nil: time.Now).
func NewService(db *store.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, now: func() time.Time { return now().UTC() }, touched: map[int64]time.Time{}, verified: map[string]verifiedKey{}}
}

func newSecret() (prefix, secret string, err error) {
	p := make([]byte, prefixBytes)
	s := make([]byte, secretBytes)
	if _, err := rand.Read(p); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(s); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(p), hex.EncodeToString(s), nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IsPrefix reports whether s has the form of a key's public prefix.
func IsPrefix(s string) bool {
	if len(s) != 2*prefixBytes {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// splitToken parses "sdk_<prefix>_<secret>".
func splitToken(token string) (prefix, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", "", false
	}
	prefix, secret, ok = strings.Cut(rest, "_")
	if !ok || len(prefix) != 2*prefixBytes || len(secret) != 2*secretBytes {
		return "", "", false
	}
	return prefix, secret, true
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", apperr.InvalidField("name", "a key needs a name saying who uses it")
	}
	if n := utf8.RuneCountInString(name); n > maxNameRunes {
		return "", apperr.InvalidField("name", "at most %d characters, got %d", maxNameRunes, n)
	}
	return name, nil
}

// Create issues a key and returns it with the full token, which is never
// shown again.
func (s *Service) Create(ctx context.Context, actor int64, spec Spec) (Key, string, error) {
	var k Key
	var token string
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if k, token, err = s.create(ctx, tx.Queries, spec); err != nil {
			return err
		}
		return record(ctx, tx, actor, "apikeys.create", k.GuildID, k.Prefix, nil, &k)
	})
	return k, token, err
}

// auditView is what the audit log keeps of a key: never its secret.
type auditView struct {
	Prefix    string     `json:"prefix"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func viewOf(k *Key) any {
	if k == nil {
		return nil
	}
	status := "active"
	if k.Revoked() {
		status = "revoked"
	}
	v := auditView{Prefix: k.Prefix, Name: k.Name, Scope: string(k.Scope), Status: status}
	if !k.ExpiresAt.IsZero() {
		v.ExpiresAt = &k.ExpiresAt
	}
	return v
}

// record audits a change to a key in the change's transaction: whoever
// creates, revokes or rotates it, from the dashboard or the command line,
// leaves a trace. A key bound to a guild goes to that guild's log; a key for
// every guild to guild 0's, which the operators' keys page shows and no
// guild's log does.
func record(ctx context.Context, tx *store.Tx, actor int64, action string, guild int64, prefix string, before, after *Key) error {
	return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: action, Target: "apikey:" + prefix},
		viewOf(before), viewOf(after))
}

func (s *Service) create(ctx context.Context, q *sqldb.Queries, spec Spec) (Key, string, error) {
	name, err := checkName(spec.Name)
	if err != nil {
		return Key{}, "", err
	}
	if !spec.Scope.Valid() {
		return Key{}, "", apperr.InvalidField("scope", "must be read, write or admin, got %q", string(spec.Scope))
	}
	if spec.GuildID < 0 {
		return Key{}, "", apperr.InvalidField("guild", "must be a Discord guild id")
	}
	if spec.TTL != 0 && (spec.TTL < MinTTL || spec.TTL > MaxTTL) {
		return Key{}, "", apperr.InvalidField("expires_in", "must be between an hour and five years, or none; got %s", spec.TTL)
	}
	now := s.now()
	expires := sql.NullTime{Time: now.Add(spec.TTL), Valid: spec.TTL > 0}
	prefix, secret, err := newSecret()
	if err != nil {
		return Key{}, "", fmt.Errorf("generate key: %w", err)
	}
	r, err := q.CreateAPIKey(ctx, sqldb.CreateAPIKeyParams{
		Prefix: prefix, SecretHash: hashSecret(secret), Name: name, Scope: string(spec.Scope),
		GuildID: sql.NullInt64{Int64: spec.GuildID, Valid: spec.GuildID != 0}, CreatedAt: now, ExpiresAt: expires,
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("save key: %w", err)
	}
	return keyOf(r), tokenPrefix + prefix + "_" + secret, nil
}

// List returns every key, revoked ones included, oldest first.
func (s *Service) List(ctx context.Context) ([]Key, error) {
	rows, err := s.db.Q().ListAPIKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]Key, 0, len(rows))
	for _, r := range rows {
		out = append(out, keyOf(r))
	}
	return out, nil
}

// Expiring lists the keys still working at now whose lifetime ends within
// d, soonest first: what the APIKeyExpiring alert names, and the soonest of
// which /metrics reports.
func (s *Service) Expiring(ctx context.Context, now time.Time, d time.Duration) ([]Key, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, k := range all {
		if k.expiresWithin(now, d) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b Key) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return out, nil
}

// Revoke disables the key with this prefix at once.
func (s *Service) Revoke(ctx context.Context, actor int64, prefix string) (Key, error) {
	var k Key
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if k, err = s.revoke(ctx, tx.Queries, prefix); err != nil {
			return err
		}
		was := k
		was.RevokedAt = time.Time{}
		return record(ctx, tx, actor, "apikeys.revoke", k.GuildID, k.Prefix, &was, &k)
	})
	if err == nil {
		s.announceRevoked(ctx, k.Prefix)
	}
	return k, err
}

func (s *Service) announceRevoked(ctx context.Context, prefix string) {
	s.forget(prefix)
	s.mu.Lock()
	b := s.bus
	s.mu.Unlock()
	if b != nil {
		_ = b.Publish(ctx, TopicKeyRevoked, []byte(prefix)) // lost: the entry expires within verifiedFor
	}
}

func (s *Service) revoke(ctx context.Context, q *sqldb.Queries, prefix string) (Key, error) {
	prefix = strings.TrimPrefix(strings.TrimSpace(prefix), tokenPrefix)
	r, err := q.GetAPIKeyByPrefix(ctx, prefix)
	if store.IsNoRows(err) {
		return Key{}, apperr.New(apperr.NotFound, "no API key has the prefix %q (see \"smarterdev apikey list\")", prefix)
	}
	if err != nil {
		return Key{}, fmt.Errorf("read key: %w", err)
	}
	if r.RevokedAt.Valid {
		return Key{}, apperr.New(apperr.Conflict, "the API key %s was already revoked", prefix)
	}
	now := s.now()
	if _, err := q.RevokeAPIKey(ctx, sqldb.RevokeAPIKeyParams{Now: sql.NullTime{Time: now, Valid: true}, Prefix: prefix}); err != nil {
		return Key{}, fmt.Errorf("revoke key: %w", err)
	}
	k := keyOf(r)
	k.RevokedAt = now
	return k, nil
}

// Rotate revokes the key with this prefix and issues a new one with the same
// name, scope, guild and lifetime (counted from now), in one transaction.
func (s *Service) Rotate(ctx context.Context, actor int64, prefix string) (Key, string, error) {
	var k Key
	var token string
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		old, err := s.revoke(ctx, tx.Queries, prefix)
		if err != nil {
			return err
		}
		spec := Spec{Name: old.Name, Scope: old.Scope, GuildID: old.GuildID}
		if !old.ExpiresAt.IsZero() {
			spec.TTL = min(max(old.ExpiresAt.Sub(old.CreatedAt), MinTTL), MaxTTL)
		}
		if k, token, err = s.create(ctx, tx.Queries, spec); err != nil {
			return err
		}
		prefix = old.Prefix
		old.RevokedAt = time.Time{} // as it was: the new key replaces it
		return record(ctx, tx, actor, "apikeys.rotate", k.GuildID, old.Prefix, &old, &k)
	})
	if err == nil {
		s.announceRevoked(ctx, prefix)
	}
	return k, token, err
}

// Authenticate checks a presented token and returns its key; any failure is
// ErrInvalidKey. It records the use at most once a minute per key.
func (s *Service) Authenticate(ctx context.Context, token string) (Key, error) {
	prefix, secret, ok := splitToken(token)
	if !ok {
		return Key{}, ErrInvalidKey
	}
	now := s.now()
	s.mu.Lock()
	v, cached := s.verified[prefix]
	s.mu.Unlock()
	r, stored := v.row, v.hash
	if !cached || now.Sub(v.at) > VerifiedFor {
		var err error
		r, err = s.db.Q().GetAPIKeyByPrefix(ctx, prefix)
		if store.IsNoRows(err) {
			return Key{}, ErrInvalidKey
		}
		if err != nil {
			return Key{}, fmt.Errorf("read key: %w", err)
		}
		stored, cached = []byte(r.SecretHash), false
	}
	// hashSecret(secret) compared with the stored hash, without allocating.
	sum := sha256.Sum256([]byte(secret))
	var presented [2 * sha256.Size]byte
	hex.Encode(presented[:], sum[:])
	if subtle.ConstantTimeCompare(presented[:], stored) != 1 || r.RevokedAt.Valid {
		return Key{}, ErrInvalidKey
	}
	if r.ExpiresAt.Valid && !now.Before(r.ExpiresAt.Time) { // cached or not
		return Key{}, &ExpiredError{At: r.ExpiresAt.Time}
	}
	if !cached {
		s.mu.Lock()
		if len(s.verified) > 10_000 {
			clear(s.verified) // bound the map: forgetting only costs a read
		}
		s.verified[prefix] = verifiedKey{row: r, hash: stored, at: now}
		s.mu.Unlock()
	}
	k := keyOf(r)
	s.touch(ctx, k)
	return k, nil
}

// touch writes last_used_at when this process has not done so for the key in
// the last minute; the statement's own guard keeps other processes to the
// same rate. A failed write only costs the timestamp's freshness.
func (s *Service) touch(ctx context.Context, k Key) {
	now := s.now()
	s.mu.Lock()
	last, seen := s.touched[k.ID]
	if seen && now.Sub(last) < touchEvery {
		s.mu.Unlock()
		return
	}
	s.touched[k.ID] = now
	if len(s.touched) > 10_000 { // bound the map: forgetting only costs a write
		clear(s.touched)
	}
	s.mu.Unlock()
	_ = s.db.Tx(ctx, func(tx *store.Tx) error {
		return tx.TouchAPIKey(ctx, sqldb.TouchAPIKeyParams{
			Now: sql.NullTime{Time: now, Valid: true}, ID: k.ID,
			Cutoff: sql.NullTime{Time: now.Add(-touchEvery), Valid: true},
		})
	})
}
