package did

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sampleDoc uses every shape a document can take: string and array
// controllers, relative and absolute ids, referenced and embedded
// verification methods, and string, map and array service endpoints.
const sampleDoc = `{
  "@context": ["https://www.w3.org/ns/did/v1", {"@base": "did:example:123"}],
  "id": "did:example:123",
  "controller": "did:example:ctrl",
  "alsoKnownAs": ["https://example.com/alice"],
  "verificationMethod": [
    {"id": "did:example:123#key-1", "type": "Multikey", "controller": "did:example:123",
     "publicKeyMultibase": "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
    {"id": "#key-2", "type": "JsonWebKey2020", "controller": "did:example:123",
     "publicKeyJwk": {"kty": "EC", "crv": "P-256", "x": "fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI", "y": "hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU"}}
  ],
  "authentication": [
    "#key-1",
    {"id": "did:example:123#auth-1", "type": "Multikey", "controller": "did:example:123",
     "publicKeyMultibase": "zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"}
  ],
  "assertionMethod": ["did:example:123#key-1", "#key-2"],
  "keyAgreement": ["did:example:other#key-9"],
  "capabilityInvocation": ["#key-1"],
  "capabilityDelegation": ["#key-1"],
  "service": [
    {"id": "#agent", "type": "DIDCommMessaging", "serviceEndpoint": "https://agent.example.com/"},
    {"id": "did:example:123#hub", "type": ["LinkedDomains", "Hub"], "serviceEndpoint": {"origins": ["https://example.com"]}},
    {"id": "#list", "type": "X", "serviceEndpoint": ["https://a.example.com", {"uri": "https://b.example.com"}]}
  ]
}`

func unmarshalDoc(t *testing.T, s string) *Document {
	t.Helper()
	var d Document
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return &d
}

// jsonEqual compares two JSON texts semantically.
func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON mismatch\ngot:  %s\nwant: %s", got, want)
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	d := unmarshalDoc(t, sampleDoc)
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if !reflect.DeepEqual(d.Controller, []string{"did:example:ctrl"}) {
		t.Errorf("controller = %q", d.Controller)
	}
	if d.Authentication[0].Reference != "#key-1" || d.Authentication[0].Embedded != nil {
		t.Errorf("authentication[0] = %+v", d.Authentication[0])
	}
	if e := d.Authentication[1].Embedded; e == nil || e.ID != "did:example:123#auth-1" || d.Authentication[1].Reference != "" {
		t.Errorf("authentication[1] = %+v", d.Authentication[1])
	}
	if !reflect.DeepEqual(d.Service[1].Type, []string{"LinkedDomains", "Hub"}) {
		t.Errorf("service[1].type = %q", d.Service[1].Type)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	// The same shapes come back: string controller, embedded method as an
	// object, string vs array service types, raw endpoints.
	jsonEqual(t, b, []byte(sampleDoc))

	// Raw members come back compacted, so a second round trip is stable
	// byte for byte.
	d2 := unmarshalDoc(t, string(b))
	b2, err := json.Marshal(d2)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Fatalf("second round trip differs:\n%s\n%s", b, b2)
	}
}

func TestDocumentControllerArray(t *testing.T) {
	in := `{"@context":"https://www.w3.org/ns/did/v1","id":"did:example:1","controller":["did:example:a","did:example:b"]}`
	d := unmarshalDoc(t, in)
	if !reflect.DeepEqual(d.Controller, []string{"did:example:a", "did:example:b"}) {
		t.Fatalf("controller = %q", d.Controller)
	}
	b, _ := json.Marshal(d)
	jsonEqual(t, b, []byte(in))
}

func TestDocumentDefaultContext(t *testing.T) {
	b, err := json.Marshal(Document{ID: "did:example:1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context":["https://www.w3.org/ns/did/v1","https://w3id.org/security/multikey/v1","https://w3id.org/security/suites/jws-2020/v1"],"id":"did:example:1"}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestDocumentUnmarshalStrict(t *testing.T) {
	bad := []struct{ in, want string }{
		{`[]`, "expected a JSON object"},
		{`{"id":"did:example:1","id":"did:example:2"}`, `duplicate member "id"`},
		{`{"id":5}`, "id: must be a string"},
		{`{"controller":5}`, "controller: must be a string or an array"},
		{`{"controller":[1]}`, "controller: must be a string or an array"},
		{`{"verificationMethod":{}}`, "verificationMethod: must be an array"},
		{`{"verificationMethod":[{"id":"#a","id":"#b"}]}`, `duplicate member "id"`},
		{`{"verificationMethod":[{"publicKeyJwk":"x"}]}`, "publicKeyJwk: must be an object"},
		{`{"authentication":[5]}`, "must be a string or an object"},
		{`{"service":[{"type":5}]}`, "type: must be a string or an array"},
		{`{"service":[{"id":"#a","id":"#a"}]}`, `duplicate member "id"`},
	}
	for _, tt := range bad {
		var d Document
		err := json.Unmarshal([]byte(tt.in), &d)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Unmarshal(%s) = %v, want error containing %q", tt.in, err, tt.want)
		}
	}
	// Member names are case-sensitive: "ID" is an unknown extension
	// property, not the id.
	d := unmarshalDoc(t, `{"ID":"did:example:evil","id":"did:example:1","@context":null,"controller":null}`)
	if d.ID != "did:example:1" || d.Context != nil || d.Controller != nil {
		t.Fatalf("got %+v", d)
	}
}

func TestValidateErrors(t *testing.T) {
	base := func() *Document { return unmarshalDoc(t, sampleDoc) }
	tests := []struct {
		name   string
		mutate func(d *Document)
		want   string
	}{
		{"bad id", func(d *Document) { d.ID = "did:example" }, "id: "},
		{"bad context", func(d *Document) { d.Context = json.RawMessage(`5`) }, "@context: "},
		{"bad context entry", func(d *Document) { d.Context = json.RawMessage(`["a", 5]`) }, "@context: entry 1"},
		{"bad controller", func(d *Document) { d.Controller = []string{"did:example:ok", "nope"} }, "controller[1]: "},
		{"bad alsoKnownAs", func(d *Document) { d.AlsoKnownAs = []string{"no scheme"} }, "alsoKnownAs[0]: "},
		{"vm id other DID", func(d *Document) { d.VerificationMethod[1].ID = "did:example:456#key-2" }, "verificationMethod[1].id: not a DID URL under the document id"},
		{"vm id no fragment", func(d *Document) { d.VerificationMethod[1].ID = "did:example:123" }, "verificationMethod[1].id: missing fragment"},
		{"vm id empty fragment", func(d *Document) { d.VerificationMethod[1].ID = "#" }, "verificationMethod[1].id: empty fragment"},
		{"vm id missing", func(d *Document) { d.VerificationMethod[0].ID = "" }, "verificationMethod[0].id: missing"},
		{"vm id garbage", func(d *Document) { d.VerificationMethod[0].ID = "key 1" }, "verificationMethod[0].id: "},
		{"vm type", func(d *Document) { d.VerificationMethod[1].Type = "" }, "verificationMethod[1].type: missing"},
		{"vm controller", func(d *Document) { d.VerificationMethod[1].Controller = "" }, "verificationMethod[1].controller: "},
		{"vm duplicate", func(d *Document) { d.VerificationMethod[1].ID = "#key-1" }, "verificationMethod[1].id: duplicate id (also verificationMethod[0])"},
		{"vm two keys", func(d *Document) { d.VerificationMethod[1].PublicKeyMultibase = "z6Mk" }, "verificationMethod[1]: both publicKeyJwk and publicKeyMultibase"},
		{"vm private jwk", func(d *Document) {
			d.VerificationMethod[1].PublicKeyJwk = json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"AA","d":"AA"}`)
		}, `verificationMethod[1].publicKeyJwk: contains private key material ("d")`},
		{"vm symmetric jwk", func(d *Document) { d.VerificationMethod[1].PublicKeyJwk = json.RawMessage(`{"kty":"oct","k":"AA"}`) }, `("k")`},
		{"embedded bad", func(d *Document) { d.Authentication[1].Embedded.Type = "" }, "authentication[1].type: missing"},
		{"embedded duplicate", func(d *Document) { d.Authentication[1].Embedded.ID = "#key-2" }, "authentication[1].id: duplicate id (also verificationMethod[1])"},
		{"embedded and reference", func(d *Document) { d.Authentication[1].Reference = "#key-1" }, "authentication[1]: both a reference and an embedded"},
		{"dangling reference", func(d *Document) { d.AssertionMethod[1].Reference = "#key-3" }, `assertionMethod[1]: "#key-3" does not name a verification method`},
		{"dangling absolute reference", func(d *Document) { d.CapabilityDelegation[0].Reference = "did:example:123#nope" }, "capabilityDelegation[0]: "},
		{"empty reference", func(d *Document) { d.KeyAgreement[0].Reference = "" }, "keyAgreement[0]: empty reference"},
		{"bad reference", func(d *Document) { d.KeyAgreement[0].Reference = "not a did" }, "keyAgreement[0]: "},
		{"reference to service", func(d *Document) { d.CapabilityInvocation[0].Reference = "#agent" }, "capabilityInvocation[0]: "},
		{"service id", func(d *Document) { d.Service[0].ID = "" }, "service[0].id: missing"},
		{"service id not URI", func(d *Document) { d.Service[0].ID = "agent" }, "service[0].id: not a URI"},
		{"service duplicate", func(d *Document) { d.Service[2].ID = "did:example:123#agent" }, "service[2].id: duplicate id (also service[0])"},
		{"service clashes with vm", func(d *Document) { d.Service[0].ID = "#key-1" }, "service[0].id: duplicate id (also verificationMethod[0])"},
		{"service type", func(d *Document) { d.Service[1].Type = nil }, "service[1].type: missing"},
		{"service type empty", func(d *Document) { d.Service[1].Type = []string{"a", ""} }, "service[1].type[1]: empty"},
		{"service endpoint missing", func(d *Document) { d.Service[0].ServiceEndpoint = nil }, "service[0].serviceEndpoint: missing"},
		{"service endpoint not URI", func(d *Document) { d.Service[0].ServiceEndpoint = json.RawMessage(`"agent"`) }, "service[0].serviceEndpoint: not a URI"},
		{"service endpoint number", func(d *Document) { d.Service[0].ServiceEndpoint = json.RawMessage(`5`) }, "service[0].serviceEndpoint: must be"},
		{"service endpoint empty array", func(d *Document) { d.Service[0].ServiceEndpoint = json.RawMessage(`[]`) }, "service[0].serviceEndpoint: empty array"},
		{"service endpoint nested array", func(d *Document) { d.Service[0].ServiceEndpoint = json.RawMessage(`[[]]`) }, "service[0].serviceEndpoint: entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := base()
			tt.mutate(d)
			err := d.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error starting with %q", err, tt.want)
			}
		})
	}
}

func TestVerificationMethodByID(t *testing.T) {
	d := unmarshalDoc(t, sampleDoc)
	for _, id := range []string{"#key-2", "did:example:123#key-2"} {
		vm, ok := d.VerificationMethodByID(id)
		if !ok || vm.ID != "did:example:123#key-2" || vm.Type != "JsonWebKey2020" {
			t.Errorf("VerificationMethodByID(%q) = %+v, %v", id, vm, ok)
		}
	}
	// Embedded methods are found too.
	if vm, ok := d.VerificationMethodByID("#auth-1"); !ok || vm.ID != "did:example:123#auth-1" {
		t.Errorf("embedded: %+v, %v", vm, ok)
	}
	for _, id := range []string{"", "#", "#nope", "did:example:456#key-2", "#agent"} {
		if vm, ok := d.VerificationMethodByID(id); ok {
			t.Errorf("VerificationMethodByID(%q) = %+v", id, vm)
		}
	}
	// The returned copy does not alias the document.
	vm, _ := d.VerificationMethodByID("#key-2")
	vm.Type = "changed"
	if d.VerificationMethod[1].Type != "JsonWebKey2020" || d.VerificationMethod[1].ID != "#key-2" {
		t.Fatal("VerificationMethodByID aliased the document")
	}
}

func TestAuthorized(t *testing.T) {
	d := unmarshalDoc(t, sampleDoc)
	tests := []struct {
		rel, id string
		want    bool
	}{
		{Authentication, "#key-1", true},
		{Authentication, "did:example:123#key-1", true},
		{Authentication, "#auth-1", true},
		{Authentication, "#key-2", false},
		{AssertionMethod, "#key-1", true},
		{AssertionMethod, "did:example:123#key-2", true},
		{KeyAgreement, "did:example:other#key-9", true},
		{KeyAgreement, "#key-1", false},
		{CapabilityInvocation, "#key-1", true},
		{CapabilityDelegation, "#key-1", true},
		{CapabilityDelegation, "#key-2", false},
		{"verificationMethod", "#key-1", false},
		{"bogus", "#key-1", false},
		{Authentication, "", false},
	}
	for _, tt := range tests {
		if got := d.Authorized(tt.rel, tt.id); got != tt.want {
			t.Errorf("Authorized(%q, %q) = %v, want %v", tt.rel, tt.id, got, tt.want)
		}
	}
}

func TestAbsolutize(t *testing.T) {
	d := unmarshalDoc(t, sampleDoc)
	shared := *d // a shallow copy shares the slices
	c := *d
	c.Absolutize()
	if c.VerificationMethod[1].ID != "did:example:123#key-2" ||
		c.Authentication[0].Reference != "did:example:123#key-1" ||
		c.Authentication[1].Embedded.ID != "did:example:123#auth-1" ||
		c.AssertionMethod[1].Reference != "did:example:123#key-2" ||
		c.KeyAgreement[0].Reference != "did:example:other#key-9" ||
		c.Service[0].ID != "did:example:123#agent" {
		t.Fatalf("Absolutize: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate after Absolutize: %v", err)
	}
	if !reflect.DeepEqual(shared, *d) || d.VerificationMethod[1].ID != "#key-2" || d.Service[0].ID != "#agent" {
		t.Fatal("Absolutize wrote through shared slices")
	}
	var empty Document
	empty.Absolutize() // no id: nothing to do, no panic
}

func TestPublicKey(t *testing.T) {
	d := unmarshalDoc(t, sampleDoc)
	pub, err := d.VerificationMethod[0].PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pub.(ed25519.PublicKey); !ok {
		t.Fatalf("Multikey: %T", pub)
	}
	pub, err = d.VerificationMethod[1].PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("JsonWebKey2020: %T", pub)
	}
	// The did:key test vector: the Multikey and the JWK are the same key.
	mk, err := d.Authentication[1].Embedded.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if !ec.Equal(mk) {
		t.Fatal("P-256 Multikey and JWK of the same key differ")
	}

	okp := VerificationMethod{Type: TypeJSONWebKey, PublicKeyJwk: json.RawMessage(`{"kty":"OKP","crv":"X25519","x":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}`)}
	if pub, err := okp.PublicKey(); err != nil {
		t.Fatal(err)
	} else if _, ok := pub.(*ecdh.PublicKey); !ok {
		t.Fatalf("X25519: %T", pub)
	}
	ed := VerificationMethod{Type: TypeEd25519VerificationKey2020, PublicKeyMultibase: "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"}
	if _, err := ed.PublicKey(); err != nil {
		t.Fatal(err)
	}

	bad := []VerificationMethod{
		{Type: "Ed25519VerificationKey2018", PublicKeyMultibase: "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{Type: TypeMultikey},
		{Type: TypeMultikey, PublicKeyMultibase: "z6Mk"},
		{Type: TypeEd25519VerificationKey2020, PublicKeyMultibase: "zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"},
		{Type: TypeJSONWebKey2020},
		{Type: TypeJSONWebKey2020, PublicKeyJwk: json.RawMessage(`{"kty":"EC","crv":"P-256","x":"fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI","y":"hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU","d":"YjRs6vNvw4sYrzVVY8ipkEpDAD9PFqw1sUnvPRMA-WI"}`)},
		{Type: TypeJSONWebKey2020, PublicKeyJwk: json.RawMessage(`{"kty":"oct","k":"AAAA"}`)},
		{Type: TypeJSONWebKey2020, PublicKeyJwk: json.RawMessage(`{"kty":"EC","crv":"P-256","x":"fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI","y":"hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTA"}`)},
		{Type: TypeJSONWebKey2020, PublicKeyJwk: json.RawMessage(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`)},
		{Type: TypeJSONWebKey2020, PublicKeyJwk: json.RawMessage(`[]`)},
		{Type: TypeMultikey, PublicKeyMultibase: "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", PublicKeyJwk: json.RawMessage(`{}`)},
	}
	for i, vm := range bad {
		if pub, err := vm.PublicKey(); err == nil {
			t.Errorf("bad[%d]: got %T, want error", i, pub)
		}
	}
}
