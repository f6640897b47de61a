package interactions_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/commands"
	"github.com/smarterdev/smarterdev/internal/discord/interactions"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func server(t *testing.T) (*httptest.Server, ed25519.PrivateKey) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	db := storetest.Open(t, store.SQLite)
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	econ := economy.NewService(db, b, economy.Options{})
	router := commands.NewRouter(commands.Deps{Economy: econ, Squads: squads.NewService(db, econ), Bus: b})
	srv := httptest.NewServer(interactions.Handler(interactions.Options{PublicKey: hex.EncodeToString(pub), Router: router}))
	t.Cleanup(srv.Close)
	return srv, priv
}

func post(t *testing.T, url string, key ed25519.PrivateKey, body string, tamper bool) (int, string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if key != nil {
		sig := ed25519.Sign(key, []byte(ts+body))
		if tamper {
			sig[0] ^= 1
		}
		req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(sig))
		req.Header.Set("X-Signature-Timestamp", ts)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const ping = `{"id":"1","application_id":"2","type":1,"token":"t","version":1}`

func TestSignatureAndPing(t *testing.T) {
	srv, key := server(t)
	if code, _ := post(t, srv.URL, nil, ping, false); code != 401 {
		t.Errorf("unsigned: %d, want 401", code)
	}
	if code, _ := post(t, srv.URL, key, ping, true); code != 401 {
		t.Errorf("bad signature: %d, want 401", code)
	}
	if code, body := post(t, srv.URL, key, ping, false); code != 200 || !strings.Contains(body, `"type":1`) {
		t.Errorf("ping: %d %s", code, body)
	}
}

func TestCommandOverHTTP(t *testing.T) {
	srv, key := server(t)
	cmd := map[string]any{
		"id": "100", "application_id": "2", "type": 2, "token": "tok", "version": 1, "guild_id": "300",
		"channel": map[string]any{"id": "400", "type": 0}, "channel_id": "400",
		"member": map[string]any{"user": map[string]any{"id": "500", "username": "ada"}, "roles": []string{}, "permissions": "0"},
		"data": map[string]any{"id": "600", "name": "bytes", "type": 1,
			"options": []any{map[string]any{"name": "read", "type": 1, "options": []any{}}}},
	}
	body, _ := json.Marshal(cmd)
	code, resp := post(t, srv.URL, key, string(body), false)
	var out struct {
		Type int `json:"type"`
		Data struct {
			Embeds []struct {
				Title  string `json:"title"`
				Fields []struct{ Name, Value string }
			} `json:"embeds"`
		} `json:"data"`
	}
	_ = json.NewDecoder(bytes.NewBufferString(resp)).Decode(&out)
	if code != 200 || out.Type != 4 || len(out.Data.Embeds) != 1 || out.Data.Embeds[0].Fields[0].Value != "100 bytes" {
		t.Fatalf("bytes read over HTTP: %d %s", code, resp)
	}
}
