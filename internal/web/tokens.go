package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// A session keeps its Discord OAuth2 access token for as long as it lives:
// the viewer's guild permissions are read again with it every GuildsTTL, so
// losing Manage Server in Discord takes effect within a minute. The token is
// stored sealed with AES-256-GCM under Deps.SessionKey, with the session's id
// hash as additional data: a database dump or backup alone yields no token,
// and a sealed token copied into another session's row does not open.

// sealedPrefix marks a sealed token; the version allows a new scheme later.
const sealedPrefix = "v1:"

// errTokenUnreadable: a stored token is in plain text (written before
// tokens were sealed) or was sealed under another key. The session ends.
var errTokenUnreadable = errors.New("the session's Discord token cannot be opened with the session key")

// tokenBox seals and opens session tokens.
type tokenBox struct{ aead cipher.AEAD }

func newTokenBox(key []byte) (*tokenBox, error) {
	if len(key) != 32 {
		return nil, errors.New("web: the session key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &tokenBox{aead: aead}, nil
}

// seal encrypts token for the session idHash; "" stays "" (dev sessions).
func (b *tokenBox) seal(token, idHash string) string {
	if token == "" {
		return ""
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(token)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(token), []byte(idHash))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// open decrypts what seal stored for the session idHash.
func (b *tokenBox) open(stored, idHash string) (string, error) {
	if stored == "" {
		return "", nil
	}
	raw, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok || b == nil {
		return "", errTokenUnreadable
	}
	data, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", errTokenUnreadable
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, data[:n], data[n:], []byte(idHash))
	if err != nil {
		return "", errTokenUnreadable
	}
	return string(plain), nil
}

// DeriveSessionKey turns a secret the deployment already keeps out of the
// database (the Discord client secret) into a session key, for when
// SMARTERDEV_SESSION_KEY is not set. Every replica derives the same key;
// changing the secret signs everyone out of the dashboard.
func DeriveSessionKey(secret string) []byte {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "smarterdev dashboard session tokens v1", 32)
	if err != nil {
		panic(err) // only for a length sha256 cannot produce
	}
	return key
}
