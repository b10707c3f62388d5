package did

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"did:example:123456789abcdefghi",
		"did:web:example.com%3A8080:user:alice",
		"did:example:a::b",
		"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
		"did:example:",
		"did::x",
		"did:example:ab%2",
		"did:Example:x",
		"did:example:x/y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDID) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalidDID", s, err)
			}
			if !d.IsZero() {
				t.Fatalf("Parse(%q) returned a DID with an error", s)
			}
			return
		}
		if d.String() != s || "did:"+d.Method()+":"+d.ID() != s {
			t.Fatalf("Parse(%q) = %q (%q, %q)", s, d, d.Method(), d.ID())
		}
		d2, err := Parse(d.String())
		if err != nil || d2 != d {
			t.Fatalf("round trip of %q: %v, %v", s, d2, err)
		}
		if _, err := ParseURL(s); err != nil {
			t.Fatalf("a DID is a DID URL, but ParseURL(%q): %v", s, err)
		}
	})
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"did:example:123",
		"did:example:123/path/to?query=1#frag",
		"did:example:123?service=agent&relativeRef=/credentials#degree",
		"did:example:123?versionTime=2021-05-10T17:00:00Z",
		"did:example:123#",
		"did:example:123?#",
		"did:example:123#a#b",
		"did:example:123/%zz",
		"did:web:example.com%3A8080#key-1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDIDURL) {
				t.Fatalf("ParseURL(%q) error %v does not wrap ErrInvalidDIDURL", s, err)
			}
			return
		}
		out := u.String()
		u2, err := ParseURL(out)
		if err != nil || u2 != u || u2.String() != out {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, out, u2, err)
		}
		// The only normalization is dropping an empty query or fragment.
		emptyQuery := strings.Contains(s, "?") && u.Query == ""
		emptyFrag := strings.Contains(s, "#") && u.Fragment == ""
		if !emptyQuery && !emptyFrag && out != s {
			t.Fatalf("ParseURL(%q).String() = %q", s, out)
		}
		if d, err := Parse(s); (err == nil) != (u.Path == "" && u.Query == "" && u.Fragment == "" && out == s) || err == nil && d != u.DID {
			t.Fatalf("Parse and ParseURL disagree on %q: %v", s, err)
		}
	})
}

func FuzzDocumentUnmarshal(f *testing.F) {
	f.Add([]byte(sampleDoc))
	f.Add([]byte(`{"id":"did:example:1","controller":["did:example:a","did:example:b"]}`))
	f.Add([]byte(`{"id":"did:example:1","verificationMethod":[{"id":"#k","type":"JsonWebKey2020","controller":"did:example:1","publicKeyJwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}],"authentication":["#k"]}`))
	f.Add([]byte(`{"id":"did:example:1","id":"did:example:2"}`))
	f.Add([]byte(`{"service":[{"id":"#a","type":["x"],"serviceEndpoint":[{"a":1},"https://x"]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Document
		if err := json.Unmarshal(data, &d); err != nil {
			return
		}
		valid := d.Validate() == nil
		for _, vm := range d.VerificationMethod {
			_, _ = vm.PublicKey()
			d.VerificationMethodByID(vm.ID)
			d.Authorized(Authentication, vm.ID)
		}
		checkEncoding(t, &Result{Document: &d})
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("Marshal of an unmarshalled document: %v", err)
		}
		var d2 Document
		if err := json.Unmarshal(b, &d2); err != nil {
			t.Fatalf("re-Unmarshal: %v\n%s", err, b)
		}
		b2, err := json.Marshal(d2)
		if err != nil || string(b) != string(b2) {
			t.Fatalf("unstable round trip:\n%s\n%s", b, b2)
		}
		if valid != (d2.Validate() == nil) {
			t.Fatalf("validity changed across a round trip: %s", b)
		}
		if valid {
			c := d
			c.Absolutize()
			if err := c.Validate(); err != nil {
				t.Fatalf("Absolutize broke a valid document: %v", err)
			}
		}
	})
}
