// Package apiclient is a Go client of the Smarter Dev REST API, generated
// by oapi-codegen from api/openapi.json (`make generate`; the configuration
// is oapi-codegen.yaml). Use ClientWithResponses: each method returns the
// response decoded by status, JSON200/JSON201 for success and
// ApplicationProblemJSON<status> (or ApplicationProblemJSONDefault) for an
// RFC 9457 problem. Authenticate with a request editor:
//
//	c, err := apiclient.NewClientWithResponses("http://127.0.0.1:8080",
//		apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
//			r.Header.Set("Authorization", "Bearer "+key)
//			return nil
//		}))
package apiclient

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../api/openapi.json
