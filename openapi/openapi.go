// Package openapi holds medid's HTTP API contract: the OpenAPI 3.1 document
// openapi.yaml, embedded into the binary and served at /openapi.yaml.
//
// The document is the reference for every route the server registers (the
// app's tests compare the two with Paths), for the problem types of
// docs/problems.md and for the did:medid registration and resolution
// shapes of docs/did-medid.md.
package openapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is the OpenAPI document (YAML).
//
//go:embed openapi.yaml
var Spec []byte

// ContentType is the media type Spec is served with.
const ContentType = "application/yaml"

// Handler serves Spec as application/yaml, with an ETag so clients can
// revalidate cheaply (HEAD, Range and conditional requests work as in
// http.ServeContent).
func Handler() http.Handler {
	sum := sha256.Sum256(Spec)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "openapi.yaml", time.Time{}, bytes.NewReader(Spec))
	})
}

// operationMethods are the members of an OpenAPI path item that are
// operations.
var operationMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Paths returns every documented path (path parameters in {name} form, as
// written in the document) with its HTTP methods, upper case and sorted.
//
// One documented parameter spans several path segments: {index} of the
// ledger tile routes (tlog-tiles writes index 1234067 as x001/x234/067),
// which a router registers as a wildcard under /ledger/.
func Paths() (map[string][]string, error) {
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(Spec, &doc); err != nil {
		return nil, fmt.Errorf("openapi: parse openapi.yaml: %w", err)
	}
	out := make(map[string][]string, len(doc.Paths))
	for p, item := range doc.Paths {
		var methods []string
		for k := range item {
			if slices.Contains(operationMethods, k) {
				methods = append(methods, strings.ToUpper(k))
			}
		}
		slices.Sort(methods)
		out[p] = methods
	}
	return out, nil
}
