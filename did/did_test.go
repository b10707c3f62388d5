package did

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	valid := []struct{ in, method, id string }{
		{"did:example:123456789abcdefghi", "example", "123456789abcdefghi"},
		{"did:web:example.com%3A8080", "web", "example.com%3A8080"},
		{"did:web:example.com:user:alice", "web", "example.com:user:alice"},
		{"did:example:a::b", "example", "a::b"},
		{"did:example:abc%20def", "example", "abc%20def"},
		{"did:example:a%2fB%2F", "example", "a%2fB%2F"},
		{"did:a1:b", "a1", "b"},
		{"did:example:A.B-C_D", "example", "A.B-C_D"},
		{"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "key", "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{"did:example:" + strings.Repeat("a", MaxLength-len("did:example:")), "example", strings.Repeat("a", MaxLength-len("did:example:"))},
	}
	for _, tt := range valid {
		d, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if d.String() != tt.in || d.Method() != tt.method || d.ID() != tt.id || d.IsZero() {
			t.Errorf("Parse(%q) = %q method %q id %q", tt.in, d.String(), d.Method(), d.ID())
		}
	}
	invalid := []string{
		"",
		"did",
		"did:",
		"did:example",
		"did:example:",
		"did::abc",
		"DID:example:abc",
		"did:Example:abc",
		"did:ex-ample:abc",
		"did:ex_ample:abc",
		"did:example:abc:",
		"did:example:ab%2",
		"did:example:ab%zz",
		"did:example:ab%",
		"did:example:ab cd",
		"did:example:abc/def",
		"did:example:abc?x=1",
		"did:example:abc#frag",
		"did:example:é",
		"did:example:abc\n",
		" did:example:abc",
		"urn:example:abc",
		"did:example:" + strings.Repeat("a", MaxLength),
	}
	for _, in := range invalid {
		d, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error", in, d)
			continue
		}
		if !errors.Is(err, ErrInvalidDID) || ErrorType(err) != "invalidDid" {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalidDID", in, err)
		}
	}
}

func TestDIDZeroAndText(t *testing.T) {
	var z DID
	if !z.IsZero() || z.String() != "" || z.Method() != "" || z.ID() != "" {
		t.Fatalf("zero DID: %+v", z)
	}
	type wrap struct {
		D DID `json:"d"`
		U URL `json:"u"`
	}
	in := wrap{D: mustParse(t, "did:example:abc"), U: mustParseURL(t, "did:example:abc/p?q=1#f")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"d":"did:example:abc","u":"did:example:abc/p?q=1#f"}`; got != want {
		t.Fatalf("marshal = %s, want %s", got, want)
	}
	var out wrap
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"d":"","u":""}`), &out); err != nil || !out.D.IsZero() || !out.U.IsZero() {
		t.Fatalf("empty text: %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"did:bad"}`), &out); !errors.Is(err, ErrInvalidDID) {
		t.Fatalf("bad DID text: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"u":"did:ex:a#b#c"}`), &out); !errors.Is(err, ErrInvalidDIDURL) {
		t.Fatalf("bad DID URL text: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	valid := []struct {
		in                           string
		did, path, query, frag, back string // back is String() when it differs from in
	}{
		{in: "did:example:123", did: "did:example:123"},
		{in: "did:example:123#key-1", did: "did:example:123", frag: "key-1"},
		{in: "did:example:123/path/to?query=1#frag", did: "did:example:123", path: "/path/to", query: "query=1", frag: "frag"},
		{in: "did:example:123?service=agent&relativeRef=/credentials#degree", did: "did:example:123", query: "service=agent&relativeRef=/credentials", frag: "degree"},
		{in: "did:example:123?versionTime=2021-05-10T17:00:00Z", did: "did:example:123", query: "versionTime=2021-05-10T17:00:00Z"},
		{in: "did:example:123/", did: "did:example:123", path: "/"},
		{in: "did:example:123//a//", did: "did:example:123", path: "//a//"},
		{in: "did:example:123/a%20b:c@d!$&'()*+,;=~", did: "did:example:123", path: "/a%20b:c@d!$&'()*+,;=~"},
		{in: "did:example:123?a=b?c/d", did: "did:example:123", query: "a=b?c/d"},
		{in: "did:example:123#a/b?c", did: "did:example:123", frag: "a/b?c"},
		{in: "did:example:123#", did: "did:example:123", back: "did:example:123"},
		{in: "did:example:123?", did: "did:example:123", back: "did:example:123"},
		{in: "did:example:123?#f", did: "did:example:123", frag: "f", back: "did:example:123#f"},
		{in: "did:web:example.com%3A8080#key", did: "did:web:example.com%3A8080", frag: "key"},
	}
	for _, tt := range valid {
		u, err := ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if u.DID.String() != tt.did || u.Path != tt.path || u.Query != tt.query || u.Fragment != tt.frag {
			t.Errorf("ParseURL(%q) = %+v", tt.in, u)
		}
		back := tt.back
		if back == "" {
			back = tt.in
		}
		if u.String() != back {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tt.in, u.String(), back)
		}
		if u.IsZero() {
			t.Errorf("ParseURL(%q).IsZero()", tt.in)
		}
	}
	invalid := []string{
		"",
		"did:example:",
		"did:example:#frag",
		"did:example:123:#frag",
		"did:example:123#frag#frag2",
		"did:example:123?a b",
		"did:example:123/pa th",
		"did:example:123/%zz",
		"did:example:123?%2",
		"did:example:123#%",
		"did:example:123#[x]",
		"did:example:123/<",
		"did:Example:123/path",
		"example:123/path",
		"did:example:123/" + strings.Repeat("a", MaxURLLength),
	}
	for _, in := range invalid {
		u, err := ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) = %+v, want error", in, u)
			continue
		}
		if !errors.Is(err, ErrInvalidDIDURL) || ErrorType(err) != "invalidDidUrl" {
			t.Errorf("ParseURL(%q) error %v does not wrap ErrInvalidDIDURL", in, err)
		}
	}
}

func TestErrorType(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrInvalidDID, "invalidDid"},
		{ErrInvalidDIDURL, "invalidDidUrl"},
		{ErrNotFound, "notFound"},
		{ErrMethodNotSupported, "methodNotSupported"},
		{ErrRepresentationNotSupported, "representationNotSupported"},
		{ErrInvalidOptions, "invalidOptions"},
		{ErrInternal, "internalError"},
		{errors.New("boom"), "internalError"},
		{errors.Join(errors.New("x"), ErrNotFound), "notFound"},
	}
	for _, tt := range tests {
		if got := ErrorType(tt.err); got != tt.want {
			t.Errorf("ErrorType(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func mustParse(t testing.TB, s string) DID {
	t.Helper()
	d, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustParseURL(t testing.TB, s string) URL {
	t.Helper()
	u, err := ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
