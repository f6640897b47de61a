package api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// Spec returns the OpenAPI 3.1 document that New serves at /api/openapi.json
// (for an API with moderation, as the app builds it) and its downgrade to
// OpenAPI 3.0.3 for tools that want 3.0. It needs no dependencies: the
// document comes from the routes and their types alone, which is how
// `go run ./tools/openapi` writes api/openapi.json without a server or a
// database. spec_test.go checks that it is the document New serves.
func Spec(version string) (openapi31, openapi30 []byte, err error) {
	doc := document(version)
	if openapi31, err = doc.MarshalJSON(); err != nil {
		return nil, nil, err
	}
	if openapi30, err = doc.Downgrade(); err != nil {
		return nil, nil, err
	}
	if openapi30, err = wrapRefSiblings(openapi30); err != nil {
		return nil, nil, err
	}
	return openapi31, openapi30, nil
}

// wrapRefSiblings rewrites {"$ref": R, "description": D}, which OpenAPI 3.1
// allows and 3.0 does not (a 3.0 $ref ignores, and validators refuse, its
// siblings), as {"allOf": [{"$ref": R}], "description": D}. huma's downgrade
// leaves such schemas as they are.
func wrapRefSiblings(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok && len(v) > 1 {
				delete(v, "$ref")
				v["allOf"] = []any{map[string]any{"$ref": ref}}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(v)
	return json.Marshal(v)
}

// document registers every route, handlers unused, on an API that is never
// mounted, and returns its OpenAPI description.
func document(version string) *huma.OpenAPI {
	useProblems()
	s := &server{Deps: Deps{Version: version}, log: slog.New(slog.DiscardHandler)}
	s.api = huma.NewAPI(config(version), humago.NewAdapter(http.NewServeMux(), ""))
	s.routes()
	s.moderationRoutes()
	return s.api.OpenAPI()
}
