package did

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// memMethod is an in-memory DID method for tests.
type memMethod struct {
	name string
	docs map[string]*Result
	last ResolutionOptions
}

func (m *memMethod) Name() string { return m.name }

func (m *memMethod) Resolve(_ context.Context, d DID, opts ResolutionOptions) (*Result, error) {
	m.last = opts
	r, ok := m.docs[d.String()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	return r, nil
}

func testResolver(t *testing.T) (*Resolver, *memMethod) {
	t.Helper()
	doc := unmarshalDoc(t, sampleDoc)
	created := time.Date(2024, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600))
	m := &memMethod{name: "example", docs: map[string]*Result{
		"did:example:123":   {Document: doc, DocumentMetadata: DocumentMetadata{Created: &created, VersionID: "3"}},
		"did:example:gone":  {DocumentMetadata: DocumentMetadata{Deactivated: true}},
		"did:example:nil":   nil,
		"did:example:nodoc": {},
		"did:example:wrong": {Document: &Document{ID: "did:example:123"}},
	}}
	return NewResolver(m), m
}

func TestResolver(t *testing.T) {
	r, m := testResolver(t)
	ctx := context.Background()

	res, err := r.Resolve(ctx, "did:example:123", ResolutionOptions{VersionID: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Document.ID != "did:example:123" || m.last.VersionID != "3" {
		t.Fatalf("Resolve: %+v, opts %+v", res, m.last)
	}

	res, err = r.Resolve(ctx, "did:example:gone", ResolutionOptions{})
	if err != nil || !res.DocumentMetadata.Deactivated {
		t.Fatalf("deactivated: %+v, %v", res, err)
	}

	errs := []struct {
		in   string
		want error
	}{
		{"did:example:missing", ErrNotFound},
		{"did:other:123", ErrMethodNotSupported},
		{"not-a-did", ErrInvalidDID},
		{"did:example:123#frag", ErrInvalidDID},
		{"did:example:nil", ErrInternal},
		{"did:example:nodoc", ErrInternal},
		{"did:example:wrong", ErrInternal},
	}
	for _, tt := range errs {
		res, err := r.Resolve(ctx, tt.in, ResolutionOptions{})
		if !errors.Is(err, tt.want) || res != nil {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tt.in, res, err, tt.want)
		}
	}
	if _, err := r.ResolveDID(ctx, DID{}, ResolutionOptions{}); !errors.Is(err, ErrInvalidDID) {
		t.Errorf("ResolveDID(zero) = %v", err)
	}
}

func TestNewResolverPanics(t *testing.T) {
	for _, methods := range [][]Method{
		{&memMethod{name: "a"}, &memMethod{name: "a"}},
		{&memMethod{name: ""}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewResolver(%v) did not panic", methods)
				}
			}()
			NewResolver(methods...)
		}()
	}
}

func TestDereference(t *testing.T) {
	r, m := testResolver(t)
	ctx := context.Background()
	deref := func(s string) (any, *Result, error) {
		return r.Dereference(ctx, mustParseURL(t, s), ResolutionOptions{})
	}

	got, res, err := deref("did:example:123")
	if doc, ok := got.(*Document); err != nil || !ok || doc.ID != "did:example:123" || res == nil {
		t.Fatalf("DID: %v, %v", got, err)
	}

	got, _, err = deref("did:example:123#key-2")
	if vm, ok := got.(VerificationMethod); err != nil || !ok || vm.ID != "did:example:123#key-2" {
		t.Fatalf("#key-2: %#v, %v", got, err)
	}
	got, _, err = deref("did:example:123#auth-1")
	if vm, ok := got.(VerificationMethod); err != nil || !ok || vm.ID != "did:example:123#auth-1" {
		t.Fatalf("#auth-1: %#v, %v", got, err)
	}
	got, _, err = deref("did:example:123#hub")
	if s, ok := got.(Service); err != nil || !ok || s.ID != "did:example:123#hub" {
		t.Fatalf("#hub: %#v, %v", got, err)
	}

	services := []struct{ in, want string }{
		{"did:example:123?service=agent", "https://agent.example.com/"},
		{"did:example:123?service=agent&relativeRef=/credentials#degree", "https://agent.example.com/credentials#degree"},
		{"did:example:123?service=agent&relativeRef=%2Fa%2Fb%3Fx%3D1", "https://agent.example.com/a/b?x=1"},
		{"did:example:123?service=agent&relativeRef=c", "https://agent.example.com/c"},
		{"did:example:123?service=list", "https://a.example.com"},
	}
	for _, tt := range services {
		got, _, err := deref(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Dereference(%q) = %v, %v; want %q", tt.in, got, err, tt.want)
		}
	}

	// DID parameters become resolution options.
	if _, _, err := deref("did:example:123?versionId=3&versionTime=2024-01-01T00:00:00Z#key-1"); err != nil {
		t.Fatal(err)
	}
	if m.last.VersionID != "3" || !m.last.VersionTime.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("options from DID parameters: %+v", m.last)
	}

	errs := []struct {
		in   string
		want error
	}{
		{"did:example:123#nope", ErrNotFound},
		{"did:example:123?service=nope", ErrNotFound},
		{"did:example:123?service=hub", ErrNotFound}, // map endpoint: no URL
		{"did:example:123/path", ErrNotFound},
		{"did:example:missing#key-1", ErrNotFound},
		{"did:example:gone#key-1", ErrNotFound},
		{"did:nope:123#key-1", ErrMethodNotSupported},
		{"did:example:123?service=agent&relativeRef=https://evil.example/", ErrInvalidDIDURL},
		{"did:example:123?service=agent&relativeRef=//evil.example/", ErrInvalidDIDURL},
		{"did:example:123?versionTime=yesterday", ErrInvalidDIDURL},
		{"did:example:123?a=1;b=2", ErrInvalidDIDURL},
	}
	for _, tt := range errs {
		got, _, err := deref(tt.in)
		if !errors.Is(err, tt.want) || got != nil {
			t.Errorf("Dereference(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, res, err := deref("did:example:gone#key-1"); res == nil || !res.DocumentMetadata.Deactivated {
		t.Errorf("deactivated dereference: %v, %v", res, err)
	}
	if _, _, err := r.Dereference(ctx, URL{}, ResolutionOptions{}); !errors.Is(err, ErrInvalidDIDURL) {
		t.Errorf("zero URL: %v", err)
	}
}

func TestResultJSON(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 999999999, time.FixedZone("X", 3600))
	updated := created.Add(time.Hour)
	res := Result{
		Document: &Document{ID: "did:example:1"},
		DocumentMetadata: DocumentMetadata{
			Created:      &created,
			Updated:      &updated,
			VersionID:    "2",
			EquivalentID: []string{"did:example:alias"},
			LedgerProof: &LedgerProof{
				LogOrigin: "medid.example/log", LogIndex: 7, LeafHash: "AAAA", Entry: "e30=",
				TreeSize: 8, InclusionProof: []string{"BBBB"}, Checkpoint: "medid.example/log\n8\nCCCC\n",
			},
		},
		ResolutionMetadata: ResolutionMetadata{ContentType: "application/did+ld+json"},
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context":"https://w3id.org/did-resolution/v1",` +
		`"didDocument":{"@context":["https://www.w3.org/ns/did/v1","https://w3id.org/security/multikey/v1","https://w3id.org/security/suites/jws-2020/v1"],"id":"did:example:1"},` +
		`"didDocumentMetadata":{"created":"2024-01-02T02:04:05Z","updated":"2024-01-02T03:04:05Z","versionId":"2","equivalentId":["did:example:alias"],` +
		`"ledgerProof":{"logOrigin":"medid.example/log","logIndex":7,"leafHash":"AAAA","entry":"e30=","treeSize":8,"inclusionProof":["BBBB"],"checkpoint":"medid.example/log\n8\nCCCC\n"}},` +
		`"didResolutionMetadata":{"contentType":"application/did+ld+json"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	// A pointer marshals the same way.
	if b2, _ := json.Marshal(&res); string(b2) != want {
		t.Fatalf("pointer: %s", b2)
	}

	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.DocumentMetadata.Created.Location() != time.UTC || !back.DocumentMetadata.Created.Equal(created.Truncate(time.Second)) {
		t.Fatalf("created = %v", back.DocumentMetadata.Created)
	}
	if back.Document.ID != "did:example:1" || back.DocumentMetadata.LedgerProof.LogIndex != 7 {
		t.Fatalf("back = %+v", back)
	}

	// An error result: null document, empty metadata.
	b, _ = json.Marshal(Result{ResolutionMetadata: ResolutionMetadata{Error: "notFound", ErrorMessage: "not found"}})
	if want := `{"@context":"https://w3id.org/did-resolution/v1","didDocument":null,"didDocumentMetadata":{},"didResolutionMetadata":{"error":"notFound","errorMessage":"not found"}}`; string(b) != want {
		t.Fatalf("error result: %s", b)
	}
	var errRes Result
	if err := json.Unmarshal(b, &errRes); err != nil || errRes.Document != nil || errRes.ResolutionMetadata.Error != "notFound" {
		t.Fatalf("decoding an error result: %+v, %v", errRes, err)
	}
	if err := json.Unmarshal([]byte(`{"didDocumentMetadata":{"created":"yesterday"}}`), &back); err == nil || !strings.Contains(err.Error(), "created") {
		t.Fatalf("bad time: %v", err)
	}
}
