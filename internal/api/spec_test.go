package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

// TestSpecIsServed: the document Spec builds without dependencies (and
// tools/openapi commits) is the one the server serves.
func TestSpecIsServed(t *testing.T) {
	h, err := api.New(api.Deps{Moderation: moderation.NewService(nil, nil, moderation.Options{}), Version: "9.8.7"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: %d", rec.Code)
	}
	v31, v30, err := api.Spec("9.8.7")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Body.Bytes(), v31) {
		t.Fatalf("Spec differs from the served document:\nserved %.300s\nspec   %.300s", rec.Body.Bytes(), v31)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct{ Version string }
	}
	if err := json.Unmarshal(v30, &doc); err != nil || doc.OpenAPI != "3.0.3" || doc.Info.Version != "9.8.7" {
		t.Fatalf("3.0 document: %+v %v", doc, err)
	}
	// 3.0 ignores a $ref's siblings and validators refuse them (Spec wraps them in allOf).
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$ref"]; ok && len(v) > 1 {
				t.Errorf("3.0 document: $ref with siblings at %s", path)
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path+"[]", c)
			}
		}
	}
	var v any
	if err := json.Unmarshal(v30, &v); err != nil {
		t.Fatal(err)
	}
	walk("", v)
}

// TestCommittedSpecIsCurrent: api/openapi.json, which pkg/apiclient is
// generated from, and api/openapi-3.0.json are what the code describes.
func TestCommittedSpecIsCurrent(t *testing.T) {
	v31, v30, err := api.Spec("dev")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"openapi.json": v31, "openapi-3.0.json": v30} {
		got, err := os.ReadFile(filepath.Join("..", "..", "api", name))
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, got); err != nil {
			t.Fatalf("api/%s: %v", name, err)
		}
		if !bytes.Equal(compact.Bytes(), want) {
			t.Errorf("api/%s is stale: run `make generate` (it also regenerates pkg/apiclient) and commit the result", name)
		}
	}
}
