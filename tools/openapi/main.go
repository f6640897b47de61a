// Command openapi writes the REST API's OpenAPI document from the code,
// without a server or a database: api/openapi.json (OpenAPI 3.1, what the
// server serves at /api/openapi.json) and api/openapi-3.0.json (huma's
// downgrade to 3.0.3, for generators that do not read 3.1). `make generate`
// runs it before generating the Go client (pkg/apiclient).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/smarterdev/smarterdev/internal/api"
)

func main() {
	out := flag.String("out", "api", "directory to write openapi.json and openapi-3.0.json to")
	// The committed document is not tied to a build: the server fills in its
	// own version when it serves the document.
	version := flag.String("version", "dev", "info.version of the document")
	flag.Parse()
	if err := run(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}

func run(dir, version string) error {
	v31, v30, err := api.Spec(version)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, doc := range map[string][]byte{"openapi.json": v31, "openapi-3.0.json": v30} {
		var b bytes.Buffer
		if err := json.Indent(&b, doc, "", "  "); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		b.WriteByte('\n')
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
