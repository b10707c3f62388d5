package jsonld

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/medid/medid/credentials/health"
)

// URLs of the bundled contexts.
const (
	CredentialsV2          = "https://www.w3.org/ns/credentials/v2"
	CredentialsV1          = "https://www.w3.org/2018/credentials/v1"
	DataIntegrityV2        = "https://w3id.org/security/data-integrity/v2"
	MultikeyV1             = "https://w3id.org/security/multikey/v1"
	Ed25519Signature2020V1 = "https://w3id.org/security/suites/ed25519-2020/v1"
	// CredentialsExamplesV2 is the context of the VC specifications'
	// examples and test vectors: one @vocab, no terms.
	CredentialsExamplesV2 = "https://www.w3.org/ns/credentials/examples/v2"
)

//go:embed contexts/*.jsonld
var bundled embed.FS

var bundledFiles = map[string]string{
	CredentialsV2:          "contexts/credentials-v2.jsonld",
	CredentialsV1:          "contexts/credentials-v1.jsonld",
	DataIntegrityV2:        "contexts/data-integrity-v2.jsonld",
	MultikeyV1:             "contexts/multikey-v1.jsonld",
	Ed25519Signature2020V1: "contexts/ed25519-2020-v1.jsonld",
	CredentialsExamplesV2:  "contexts/credentials-examples-v2.jsonld",
}

// Context is a context document to register under a URL.
type Context struct {
	URL      string
	Document []byte
}

// HealthContext is medid's health context (health.JSONLDContext) at the URL
// an issuer whose base URL is baseURL serves it (health.ContextPath).
func HealthContext(baseURL string) Context {
	return Context{URL: strings.TrimRight(baseURL, "/") + health.ContextPath, Document: health.JSONLDContext()}
}

// Loader serves context documents from memory: the bundled ones and those
// given to NewLoader. It never fetches anything. It is safe for concurrent
// use and immutable once made.
type Loader struct {
	raw    map[string][]byte
	parsed map[string]any
}

// NewLoader returns a Loader with every bundled context plus extra (which
// may not replace a bundled one). Each extra document must be a JSON object
// with an "@context" member.
func NewLoader(extra ...Context) (*Loader, error) {
	l := &Loader{raw: map[string][]byte{}, parsed: map[string]any{}}
	for u, f := range bundledFiles {
		b, err := bundled.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := l.add(u, b); err != nil {
			return nil, err
		}
	}
	for _, c := range extra {
		if _, dup := l.raw[c.URL]; dup {
			return nil, fmt.Errorf("jsonld: context %q registered twice", c.URL)
		}
		if !isAbsoluteIRI(c.URL) {
			return nil, fmt.Errorf("jsonld: context URL %q is not absolute", c.URL)
		}
		if err := l.add(c.URL, c.Document); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Loader) add(u string, b []byte) error {
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("jsonld: context %q: %w", u, err)
	}
	if _, ok := v["@context"]; !ok {
		return fmt.Errorf("jsonld: context %q has no @context", u)
	}
	l.raw[u] = slices.Clone(b)
	l.parsed[u] = v
	return nil
}

// URLs returns the URLs the Loader serves, sorted.
func (l *Loader) URLs() []string {
	out := make([]string, 0, len(l.raw))
	for u := range l.raw {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// Document returns the context document served at url, or an
// *UnknownContextError.
func (l *Loader) Document(url string) ([]byte, error) {
	b, ok := l.raw[url]
	if !ok {
		return nil, &UnknownContextError{URL: url}
	}
	return slices.Clone(b), nil
}

// parsedDocument returns a deep copy of the parsed document at url.
func (l *Loader) parsedDocument(url string) (any, error) {
	v, ok := l.parsed[url]
	if !ok {
		return nil, &UnknownContextError{URL: url}
	}
	return deepCopy(v), nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// isAbsoluteIRI reports whether s starts with a URI scheme and a colon.
func isAbsoluteIRI(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 1 {
		return false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
