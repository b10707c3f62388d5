package didhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/did"
)

const testDoc = `{
  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
  "id": "did:medid:abc",
  "verificationMethod": [{"id": "#key-1", "type": "Multikey", "controller": "did:medid:abc",
    "publicKeyMultibase": "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"}],
  "authentication": ["#key-1"],
  "assertionMethod": ["#key-1"],
  "service": [
    {"id": "#files", "type": "Files", "serviceEndpoint": "https://files.example.com/base/"},
    {"id": "#mail", "type": "Mail", "serviceEndpoint": "mailto:alice@example.com"}
  ]
}`

// fakeMethod is an in-memory "medid" method.
type fakeMethod struct {
	mu   sync.Mutex
	last did.ResolutionOptions
	docs map[string]*did.Result
}

func (m *fakeMethod) Name() string { return "medid" }

func (m *fakeMethod) Resolve(_ context.Context, d did.DID, opts did.ResolutionOptions) (*did.Result, error) {
	m.mu.Lock()
	m.last = opts
	m.mu.Unlock()
	switch d.ID() {
	case "boom":
		return nil, errors.New("database on fire at 10.1.2.3")
	case "badopts":
		return nil, fmt.Errorf("%w: no versions here", did.ErrInvalidOptions)
	}
	if r, ok := m.docs[d.String()]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("%w: %s", did.ErrNotFound, d)
}

func (m *fakeMethod) lastOpts() did.ResolutionOptions {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

func newServer(t testing.TB) (*echo.Echo, *fakeMethod) {
	t.Helper()
	var doc did.Document
	if err := json.Unmarshal([]byte(testDoc), &doc); err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := &fakeMethod{docs: map[string]*did.Result{
		"did:medid:abc": {Document: &doc, DocumentMetadata: did.DocumentMetadata{Created: &created, VersionID: "1"}},
		"did:medid:gone": {
			Document:         &did.Document{ID: "did:medid:gone"},
			DocumentMetadata: did.DocumentMetadata{Deactivated: true},
		},
	}}
	e := echo.New()
	Register(e.Group(""), did.NewResolver(m))
	return e, m
}

type response struct {
	status int
	ct     string
	header http.Header
	body   []byte
}

func get(t testing.TB, e *echo.Echo, target, accept string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header().Get("Content-Type"), rec.Header(), rec.Body.Bytes()}
}

// resultOf decodes a resolution result body.
func resultOf(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
	if m["@context"] != did.ResolutionContext {
		t.Fatalf("no resolution @context: %s", r.body)
	}
	return m
}

func TestRepresentations(t *testing.T) {
	e, _ := newServer(t)
	docAlone := []struct{ accept, ct string }{
		{"", ContentTypeDIDLD},
		{"*/*", ContentTypeDIDLD},
		{"application/*", ContentTypeDIDLD},
		{"application/json", ContentTypeDIDLD},
		{"application/ld+json", ContentTypeDIDLD},
		{"application/did+ld+json", ContentTypeDIDLD},
		{"application/did+json", ContentTypeDIDJSON},
		{"application/did", ContentTypeDID},
		{"text/html, application/did+json;q=0.5", ContentTypeDIDJSON},
		{"application/did+json;q=0.5, application/did+ld+json;q=0.9", ContentTypeDIDLD},
		{"*/*;q=0.8, application/did+json;q=0.8", ContentTypeDIDJSON},
		{"APPLICATION/DID+JSON", ContentTypeDIDJSON},
	}
	for _, tt := range docAlone {
		r := get(t, e, "/1.0/identifiers/did:medid:abc", tt.accept)
		if r.status != http.StatusOK || r.ct != tt.ct {
			t.Errorf("Accept %q: %d %s, want 200 %s\n%s", tt.accept, r.status, r.ct, tt.ct, r.body)
			continue
		}
		var doc did.Document
		if err := json.Unmarshal(r.body, &doc); err != nil || doc.ID != "did:medid:abc" {
			t.Errorf("Accept %q: body %s (%v)", tt.accept, r.body, err)
		}
		if r.header.Get("Vary") != "Accept" {
			t.Errorf("Accept %q: Vary = %q", tt.accept, r.header.Get("Vary"))
		}
	}

	for _, accept := range []string{
		"application/did-resolution",
		`application/ld+json;profile="https://w3id.org/did-resolution"`,
		`application/ld+json; profile="https://w3id.org/did-resolution"; charset=utf-8`,
		"application/did+json;q=0.1, application/did-resolution",
	} {
		r := get(t, e, "/1.0/identifiers/did:medid:abc", accept)
		if r.status != http.StatusOK || r.ct != ContentTypeResolution {
			t.Fatalf("Accept %q: %d %s\n%s", accept, r.status, r.ct, r.body)
		}
		m := resultOf(t, r)
		meta := m["didResolutionMetadata"].(map[string]any)
		if meta["contentType"] != ContentTypeDIDLD {
			t.Errorf("Accept %q: didResolutionMetadata %v", accept, meta)
		}
		if doc := m["didDocument"].(map[string]any); doc["id"] != "did:medid:abc" {
			t.Errorf("Accept %q: didDocument %v", accept, doc)
		}
		if dm := m["didDocumentMetadata"].(map[string]any); dm["created"] != "2025-01-02T03:04:05Z" || dm["versionId"] != "1" {
			t.Errorf("Accept %q: didDocumentMetadata %v", accept, dm)
		}
	}

	for _, accept := range []string{"text/html", "application/xml", "application/did+json;q=0", "image/*", "application/did+cbor"} {
		r := get(t, e, "/1.0/identifiers/did:medid:abc", accept)
		if r.status != http.StatusNotAcceptable || r.ct != ContentTypeResolution {
			t.Errorf("Accept %q: %d %s, want 406", accept, r.status, r.ct)
			continue
		}
		if meta := resultOf(t, r)["didResolutionMetadata"].(map[string]any); meta["error"] != "representationNotSupported" {
			t.Errorf("Accept %q: %v", accept, meta)
		}
	}
}

func TestErrors(t *testing.T) {
	e, _ := newServer(t)
	tests := []struct {
		path   string
		status int
		typ    string
	}{
		{"/1.0/identifiers/did:medid:missing", http.StatusNotFound, "notFound"},
		{"/1.0/identifiers/did%3Amedid%3Amissing", http.StatusNotFound, "notFound"},
		{"/1.0/identifiers/did:medid:missing%23key-1", http.StatusNotFound, "notFound"},
		{"/1.0/identifiers/did%3Amedid%3Aabc%23nope", http.StatusNotFound, "notFound"},
		{"/1.0/identifiers/did:medid:abc?service=nope", http.StatusNotFound, "notFound"},
		{"/1.0/identifiers/did:medid:abc%2Fpath", http.StatusNotFound, "notFound"},
		{"/1.0/identifiers/did:other:abc", http.StatusNotImplemented, "methodNotSupported"},
		{"/1.0/identifiers/did:MEDID:abc", http.StatusBadRequest, "invalidDid"},
		{"/1.0/identifiers/not-a-did", http.StatusBadRequest, "invalidDid"},
		{"/1.0/identifiers/did:medid:", http.StatusBadRequest, "invalidDid"},
		{"/1.0/identifiers/did%3Amedid%3Aabc%23a%23b", http.StatusBadRequest, "invalidDidUrl"},
		{"/1.0/identifiers/did%3amedid%3aab%25zz", http.StatusBadRequest, "invalidDid"},
		{"/1.0/identifiers/did:medid:abc?versionTime=yesterday", http.StatusBadRequest, "invalidOptions"},
		{"/1.0/identifiers/did:medid:abc?versionTime=2025-01-01", http.StatusBadRequest, "invalidOptions"},
		{"/1.0/identifiers/did:medid:abc?a=1;b=2", http.StatusBadRequest, "invalidOptions"},
		{"/1.0/identifiers/did:medid:badopts", http.StatusBadRequest, "invalidOptions"},
		{"/1.0/identifiers/did:medid:abc?service=files&relativeRef=https://evil.example/", http.StatusBadRequest, "invalidDidUrl"},
		{"/1.0/identifiers/did:medid:boom", http.StatusInternalServerError, "internalError"},
	}
	for _, tt := range tests {
		for _, accept := range []string{"", "application/did-resolution", "application/did+json"} {
			r := get(t, e, tt.path, accept)
			if r.status != tt.status || r.ct != ContentTypeResolution {
				t.Errorf("%s (Accept %q): %d %s, want %d %s\n%s", tt.path, accept, r.status, r.ct, tt.status, ContentTypeResolution, r.body)
				continue
			}
			m := resultOf(t, r)
			meta := m["didResolutionMetadata"].(map[string]any)
			if meta["error"] != tt.typ || meta["errorMessage"] == "" || m["didDocument"] != nil {
				t.Errorf("%s: %s", tt.path, r.body)
			}
		}
	}
	// Internal causes are not shown to the client.
	r := get(t, e, "/1.0/identifiers/did:medid:boom", "")
	if strings.Contains(string(r.body), "10.1.2.3") || !strings.Contains(string(r.body), `"errorMessage":"internal error"`) {
		t.Errorf("internal error leaked: %s", r.body)
	}
}

func TestDeactivated(t *testing.T) {
	e, _ := newServer(t)
	for _, path := range []string{
		"/1.0/identifiers/did:medid:gone",
		"/1.0/identifiers/did%3Amedid%3Agone",
		"/1.0/identifiers/did%3Amedid%3Agone%23key-1",
		"/1.0/identifiers/did:medid:gone?service=files",
	} {
		for _, accept := range []string{"", "application/did+ld+json", "application/did+json", "application/did", "application/did-resolution"} {
			r := get(t, e, path, accept)
			if r.status != http.StatusGone || r.ct != ContentTypeResolution {
				t.Errorf("%s (Accept %q): %d %s, want 410 %s", path, accept, r.status, r.ct, ContentTypeResolution)
				continue
			}
			m := resultOf(t, r)
			if dm := m["didDocumentMetadata"].(map[string]any); dm["deactivated"] != true {
				t.Errorf("%s (Accept %q): %s", path, accept, r.body)
			}
		}
	}
}

func TestEscapedDIDAndOptions(t *testing.T) {
	e, m := newServer(t)
	for _, path := range []string{
		"/1.0/identifiers/did%3Amedid%3Aabc",
		"/1.0/identifiers/did%3amedid%3aabc",
		"/1.0/identifiers/did:medid:abc",
	} {
		r := get(t, e, path+"?versionId=7&versionTime=2024-06-01T12:00:00Z", "")
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		got := m.lastOpts()
		if got.VersionID != "7" || !got.VersionTime.Equal(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)) || got.Accept != ContentTypeDIDLD {
			t.Fatalf("%s: options %+v", path, got)
		}
	}
	// versionTime with an offset passes through as the same instant.
	get(t, e, "/1.0/identifiers/did:medid:abc?versionTime=2024-06-01T14:00:00%2B02:00", "")
	if got := m.lastOpts(); !got.VersionTime.Equal(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("versionTime = %v", got.VersionTime)
	}
	// DID parameters inside an encoded DID URL become options too.
	if r := get(t, e, "/1.0/identifiers/did%3Amedid%3Aabc%3FversionId%3D9", "application/did-resolution"); r.status != http.StatusOK || r.ct != ContentTypeResolution {
		t.Fatalf("encoded versionId: %d %s", r.status, r.body)
	}
	if got := m.lastOpts(); got.VersionID != "9" {
		t.Fatalf("encoded versionId: %+v", got)
	}
}

func TestDereference(t *testing.T) {
	e, _ := newServer(t)
	for _, path := range []string{
		"/1.0/identifiers/did%3Amedid%3Aabc%23key-1",
		"/1.0/identifiers/did:medid:abc%23key-1",
	} {
		r := get(t, e, path, "")
		if r.status != http.StatusOK || r.ct != "application/json" {
			t.Fatalf("%s: %d %s %s", path, r.status, r.ct, r.body)
		}
		var vm did.VerificationMethod
		if err := json.Unmarshal(r.body, &vm); err != nil || vm.ID != "did:medid:abc#key-1" || vm.Type != "Multikey" {
			t.Fatalf("%s: %s", path, r.body)
		}
	}

	r := get(t, e, "/1.0/identifiers/did%3Amedid%3Aabc%23files", "")
	var svc did.Service
	if err := json.Unmarshal(r.body, &svc); r.status != http.StatusOK || err != nil || svc.ID != "did:medid:abc#files" {
		t.Fatalf("service by fragment: %d %s", r.status, r.body)
	}

	redirects := []struct{ path, location string }{
		{"/1.0/identifiers/did:medid:abc?service=files&relativeRef=/resume.pdf", "https://files.example.com/resume.pdf"},
		{"/1.0/identifiers/did:medid:abc?service=files&relativeRef=docs/a.pdf", "https://files.example.com/base/docs/a.pdf"},
		{"/1.0/identifiers/did%3Amedid%3Aabc%3Fservice%3Dfiles%26relativeRef%3D%252Fx%23frag", "https://files.example.com/x#frag"},
		{"/1.0/identifiers/did:medid:abc?service=files", "https://files.example.com/base/"},
	}
	for _, tt := range redirects {
		r := get(t, e, tt.path, "")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != tt.location {
			t.Errorf("%s: %d Location %q, want 303 %q\n%s", tt.path, r.status, r.header.Get("Location"), tt.location, r.body)
		}
	}
	// A non-HTTP endpoint is returned, not redirected to.
	r = get(t, e, "/1.0/identifiers/did:medid:abc?service=mail", "")
	if r.status != http.StatusOK || string(r.body) != `"mailto:alice@example.com"` {
		t.Errorf("mailto endpoint: %d %s", r.status, r.body)
	}
	// Dereferencing needs an acceptable representation too.
	if r := get(t, e, "/1.0/identifiers/did:medid:abc%23key-1", "text/html"); r.status != http.StatusNotAcceptable {
		t.Errorf("dereference with text/html: %d", r.status)
	}
}

// TestOverHTTP runs the binding on a real server, as clients see it.
func TestOverHTTP(t *testing.T) {
	e, _ := newServer(t)
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tt := range []struct {
		path   string
		status int
		ct     string
	}{
		{"/1.0/identifiers/did:medid:abc", 200, ContentTypeDIDLD},
		{"/1.0/identifiers/did%3Amedid%3Aabc", 200, ContentTypeDIDLD},
		{"/1.0/identifiers/did%3Amedid%3Aabc%23key-1", 200, "application/json"},
		{"/1.0/identifiers/did:medid:abc?service=files&relativeRef=/x", 303, ""},
		{"/1.0/identifiers/did:medid:nope", 404, ContentTypeResolution},
		{"/1.0/identifiers/did:medid:gone", 410, ContentTypeResolution},
	} {
		resp, err := client.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || tt.ct != "" && resp.Header.Get("Content-Type") != tt.ct {
			t.Errorf("%s: %d %s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept string
		want   representation
		ok     bool
	}{
		{"", repDIDLD, true},
		{"  ", repDIDLD, true},
		{"application/did-resolution", repFull, true},
		{`application/ld+json;profile="https://w3id.org/did-resolution"`, repFull, true},
		{`application/ld+json;profile="https://example.com https://w3id.org/did-resolution"`, repFull, true},
		{`application/ld+json;profile="https://example.com"`, repDIDLD, true},
		{"application/did+json;q=0.9,application/did;q=1", repDID, true},
		{"application/did;q=abc, application/did+json", repDIDJSON, true},
		{"application/did;q=2", representation{}, false},
		{"*/*;q=0", representation{}, false},
		{",,,", representation{}, false},
		{"text/plain", representation{}, false},
	}
	for _, tt := range tests {
		got, ok := negotiate(tt.accept)
		if got != tt.want || ok != tt.ok {
			t.Errorf("negotiate(%q) = %+v, %v; want %+v, %v", tt.accept, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	e, _ := newServer(b)
	for _, accept := range []string{"application/did+ld+json", "application/did-resolution"} {
		b.Run(accept, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/1.0/identifiers/did:medid:abc", nil)
				req.Header.Set("Accept", accept)
				for pb.Next() {
					rec := httptest.NewRecorder()
					e.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatal(rec.Code)
					}
				}
			})
		})
	}
}

// BenchmarkResolveOverHTTP measures resolutions through a real HTTP server
// over loopback, client and server sharing the machine's cores.
func BenchmarkResolveOverHTTP(b *testing.B) {
	e, _ := newServer(b)
	srv := httptest.NewServer(e)
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: tr}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(srv.URL + "/1.0/identifiers/did%3Amedid%3Aabc")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatal(resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/did-resolution", `application/ld+json;profile="https://w3id.org/did-resolution";q=0.5, */*;q=0.1`, "a;;;=,;q=", "application/did;q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		rep, ok := negotiate(accept)
		if ok != (rep != representation{}) {
			t.Fatalf("negotiate(%q) = %+v, %v", accept, rep, ok)
		}
	})
}

// FuzzHandler drives the whole binding with arbitrary DID path segments,
// queries and Accept headers: it must never panic, and must answer with
// one of the binding's statuses and media types.
func FuzzHandler(f *testing.F) {
	f.Add("did:medid:abc", "", "")
	f.Add("did%3Amedid%3Aabc%23key-1", "", "application/did-resolution")
	f.Add("did:medid:abc", "service=files&relativeRef=/x", "*/*")
	f.Add("did:medid:gone", "versionTime=2024-01-01T00:00:00Z", "application/did")
	f.Add("did%3Amedid%3Aabc%3Fservice%3Dmail", "", "text/html")
	e, _ := newServer(f)
	f.Fuzz(func(t *testing.T, segment, query, accept string) {
		u := "/1.0/identifiers/" + segment
		if query != "" {
			u += "?" + query
		}
		req, err := http.NewRequest(http.MethodGet, "http://x"+u, nil)
		if err != nil || req.URL.Path == "" {
			return
		}
		req.RequestURI = u
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		ct := rec.Header().Get("Content-Type")
		if strings.HasPrefix(ct, "application/json") && (rec.Code == 404 || rec.Code == 405) {
			return // echo's own answer: the path did not match the route
		}
		switch rec.Code {
		case 200:
			if ct != ContentTypeResolution && ct != ContentTypeDIDLD && ct != ContentTypeDIDJSON && ct != ContentTypeDID && ct != "application/json" {
				t.Fatalf("200 with Content-Type %q", ct)
			}
		case 303:
			if rec.Header().Get("Location") == "" {
				t.Fatal("303 without Location")
			}
		case 400, 404, 406, 410, 500, 501:
			if ct != ContentTypeResolution {
				t.Fatalf("%d with Content-Type %q", rec.Code, ct)
			}
		default:
			t.Fatalf("unexpected status %d %q", rec.Code, ct)
		}
		if rec.Code != 303 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("invalid JSON body: %s", rec.Body.Bytes())
		}
	})
}
