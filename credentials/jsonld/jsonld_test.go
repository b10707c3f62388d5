package jsonld

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"
)

const testBase = "https://issuer.example"

func testProcessor(t testing.TB) *Processor {
	t.Helper()
	l, err := NewLoader(HealthContext(testBase))
	if err != nil {
		t.Fatal(err)
	}
	return NewProcessor(l)
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return m
}

// corpus is JSON-LD that must canonicalize exactly as json-gold's own
// pipeline (expansion, toRDF, URDNA2015) does.
var corpus = map[string]string{
	"vc2 alumni": `{"@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
		"id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33", "type": ["VerifiableCredential", "AlumniCredential"],
		"name": "Alumni Credential", "issuer": "https://vc.example/issuers/5678", "validFrom": "2023-01-01T00:00:00Z",
		"credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"}}`,
	"health patient, blank subject": `{"@context": ["https://www.w3.org/ns/credentials/v2", "https://issuer.example/contexts/health-v1.jsonld"],
		"type": ["VerifiableCredential", "PatientIdentityCredential"], "issuer": {"id": "did:medid:abc", "name": "Clinic"},
		"validFrom": "2026-03-01T12:00:00Z",
		"credentialSubject": {"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1990-12-10",
			"identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"},
				{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "999999990", "type": "NHI"}],
			"address": {"street_address": "1 Main Street", "country": "US"}}}`,
	"status entry and evidence": `{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiableCredential",
		"issuer": "did:example:i", "credentialSubject": {"id": "did:example:s"},
		"credentialStatus": {"id": "https://x.example/status/1#5", "type": "BitstringStatusListEntry",
			"statusPurpose": "revocation", "statusListIndex": "5", "statusListCredential": "https://x.example/status/1"},
		"evidence": [{"id": "https://x.example/e/1"}, {"id": "https://x.example/e/2"}], "name": "twice", "description": "twice"}`,
	"presentation with embedded credentials": `{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiablePresentation",
		"holder": "did:example:h", "verifiableCredential": [
			{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiableCredential", "issuer": "did:example:i", "credentialSubject": {"id": "did:example:s"}},
			{"@context": ["https://www.w3.org/2018/credentials/v1"], "type": "VerifiableCredential", "issuer": "did:example:j", "issuanceDate": "2020-01-01T00:00:00Z", "credentialSubject": {"id": "did:example:s"}}]}`,
	"vc1 with proof graph": `{"@context": ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/security/suites/ed25519-2020/v1"],
		"type": ["VerifiableCredential"], "issuer": "did:example:i", "issuanceDate": "2020-01-01T00:00:00Z",
		"credentialSubject": {"id": "did:example:s"},
		"proof": {"type": "Ed25519Signature2020", "created": "2020-01-01T00:00:00Z", "verificationMethod": "did:example:i#k",
			"proofPurpose": "assertionMethod", "proofValue": "z123"}}`,
	"data integrity proof config": `{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
		"created": "2023-02-24T23:36:38Z", "verificationMethod": "did:example:i#k", "proofPurpose": "authentication",
		"challenge": "abc", "domain": "https://v.example", "expires": "2030-01-01T00:00:00Z"}`,
	"multikey": `{"@context": "https://w3id.org/security/multikey/v1", "id": "did:example:i#k", "type": "Multikey",
		"controller": "did:example:i", "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}`,
	"inline context, lists, literals": `{"@context": {"@vocab": "http://example.org/", "xsd": "http://www.w3.org/2001/XMLSchema#",
			"l": {"@container": "@list"}, "d": {"@type": "xsd:date"}, "r": {"@reverse": "http://example.org/knows"}, "j": {"@type": "@json"}},
		"@id": "http://example.org/a", "l": [1, 2.5, true, "x", {"@id": "_:n"}, []], "d": "2020-01-01",
		"s": {"@value": "chat", "@language": "fr"}, "big": 12345678901, "neg": -3, "zero": 0, "f": 1.5e21,
		"r": {"@id": "http://example.org/b"}, "j": {"b": [1, 2], "a": "x"},
		"cycle": {"@id": "_:n", "next": {"@id": "_:m", "next": {"@id": "_:n"}}}}`,
	"named graph and included": `{"@context": {"@vocab": "http://example.org/"}, "@id": "_:g", "name": "g",
		"@graph": [{"@id": "_:x", "p": {"@id": "_:y"}}, {"@id": "_:y", "p": {"@id": "_:x"}}],
		"@included": [{"@id": "http://example.org/i", "p": "v"}]}`,
	"twin blank nodes": `{"@context": {"@vocab": "http://example.org/"}, "@id": "http://example.org/root",
		"a": [{"p": {"q": "same"}}, {"p": {"q": "same"}}], "b": {"@id": "_:1", "s": {"@id": "_:2", "s": {"@id": "_:1"}}}}`,
	"top-level graph": `{"@context": {"@vocab": "http://example.org/"}, "@graph": [{"@id": "http://example.org/a", "p": 1}, {"p": 2}]}`,
}

// TestCanonicalizeMatchesJSONGold runs the corpus through one Processor
// three times (cold, then with every context and scoped context cached)
// and compares each result with upstream json-gold's.
func TestCanonicalizeMatchesJSONGold(t *testing.T) {
	p := testProcessor(t)
	for round := 0; round < 3; round++ {
		for name, src := range corpus {
			t.Run(name, func(t *testing.T) {
				got, err := p.Canonicalize(decode(t, src))
				if err != nil {
					t.Fatal(err)
				}
				want, err := goldNormalize(p.loader, decode(t, src))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want {
					t.Fatalf("round %d, got:\n%s\njson-gold:\n%s", round, got, want)
				}
				if len(got) == 0 {
					t.Fatal("empty dataset")
				}
			})
		}
	}
}

func unknownContext(url string) func(error) bool {
	return func(err error) bool {
		var u *UnknownContextError
		return errors.As(err, &u) && (url == "" || u.URL == url)
	}
}

func unknownTerm(term string) func(error) bool {
	return func(err error) bool {
		var u *UnknownTermError
		return errors.As(err, &u) && u.Term == term
	}
}

func invalidIRI(iri string) func(error) bool {
	return func(err error) bool {
		var u *InvalidIRIError
		return errors.As(err, &u) && (iri == "" || u.IRI == iri)
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func TestRefusals(t *testing.T) {
	p := testProcessor(t)
	cases := []struct {
		name, doc string
		check     func(error) bool
	}{
		{"unknown context", `{"@context": ["https://www.w3.org/ns/credentials/v2", "https://evil.example/ctx"], "type": "VerifiableCredential"}`,
			unknownContext("https://evil.example/ctx")},
		{"unknown nested context", `{"@context": "https://www.w3.org/ns/credentials/v2", "credentialSubject": {"@context": "https://evil.example/c2", "id": "did:x:y"}}`,
			unknownContext("https://evil.example/c2")},
		{"context imported", `{"@context": {"@import": "https://evil.example/c3", "a": "http://e.org/a"}, "a": 1}`,
			unknownContext("https://evil.example/c3")},
		{"health context at another base", `{"@context": ["https://www.w3.org/ns/credentials/v2", "https://other.example/contexts/health-v1.jsonld"]}`,
			unknownContext("")},
		{"VC term outside a VC", `{"@context": "https://www.w3.org/ns/credentials/v2", "issuer": "did:x:y"}`,
			unknownTerm("issuer")},
		{"undefined property", `{"@context": "https://www.w3.org/ns/credentials/v2", "type": "VerifiableCredential", "credentialSubject": {"id": "did:x:y", "degree": "BSc"}}`,
			unknownTerm("degree")},
		{"undefined type", `{"@context": "https://www.w3.org/ns/credentials/v2", "type": ["VerifiableCredential", "DegreeCredential"]}`,
			unknownTerm("DegreeCredential")},
		{"undefined in v1 credential inside a presentation", `{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiablePresentation",
			"verifiableCredential": [{"@context": ["https://www.w3.org/2018/credentials/v1"], "type": "VerifiableCredential", "credentialSubject": {"id": "did:x:y", "secret": "1"}}]}`,
			unknownTerm("secret")},
		{"undefined after null context", `{"@context": {"@vocab": "http://e.org/"}, "a": {"@context": null, "b": 1}}`,
			unknownTerm("b")},
		{"vocab cleared", `{"@context": [{"@vocab": null}], "b": 1}`,
			isErr(ErrUnsupported)},
		{"undefined in health claims", `{"@context": ["https://www.w3.org/ns/credentials/v2", "https://issuer.example/contexts/health-v1.jsonld"],
			"type": ["VerifiableCredential", "PatientIdentityCredential"], "credentialSubject": {"given_name": "A", "ssn": "123"}}`,
			unknownTerm("ssn")},
		{"relative id", `{"@context": "https://www.w3.org/ns/credentials/v2", "id": "cred-1", "type": "VerifiableCredential"}`,
			invalidIRI("cred-1")},
		{"relative issuer", `{"@context": "https://www.w3.org/ns/credentials/v2", "type": "VerifiableCredential", "issuer": "me"}`,
			invalidIRI("me")},
		{"space in IRI", `{"@context": "https://www.w3.org/ns/credentials/v2", "type": "VerifiableCredential", "issuer": "https://a b.example"}`,
			invalidIRI("")},
		{"bad percent escape", `{"@context": "https://www.w3.org/ns/credentials/v2", "type": "VerifiableCredential", "issuer": "https://x.example/%zz"}`,
			invalidIRI("https://x.example/%zz")},
		{"invalid language tag", `{"@context": {"@vocab": "http://e.org/"}, "@id": "http://e.org/a", "p": {"@value": "x", "@language": "en_US!"}}`,
			isErr(ErrInvalid)},
		{"redefined protected term", `{"@context": ["https://www.w3.org/ns/credentials/v2", {"VerifiableCredential": "http://evil.example/VC"}], "type": "VerifiableCredential"}`,
			isErr(ErrInvalid)},
		{"bad @type value", `{"@context": "https://www.w3.org/ns/credentials/v2", "type": 5}`,
			isErr(ErrInvalid)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.ToRDF(decode(t, c.doc))
			if err == nil || !c.check(err) {
				t.Fatalf("got %v (%T)", err, err)
			}
		})
	}
}

// TestPlainJSONGoldDropsWhatWeRefuse shows the hazard the refusals guard
// against: json-gold alone canonicalizes these documents, silently
// leaving the undefined term out of what would be signed.
func TestPlainJSONGoldDropsWhatWeRefuse(t *testing.T) {
	p := testProcessor(t)
	doc := `{"@context": "https://www.w3.org/ns/credentials/v2", "type": "VerifiableCredential", "credentialSubject": {"id": "did:x:y", "degree": "BSc"}}`
	out, err := goldNormalize(p.loader, decode(t, doc))
	if err != nil || strings.Contains(out, "BSc") {
		t.Fatalf("json-gold: %v\n%s", err, out)
	}
	if _, err := p.ToRDF(decode(t, doc)); err == nil {
		t.Fatal("refused nothing")
	}
}

func TestLoader(t *testing.T) {
	l, err := NewLoader(HealthContext(testBase + "/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{CredentialsV2, CredentialsV1, DataIntegrityV2, MultikeyV1, Ed25519Signature2020V1, CredentialsExamplesV2, testBase + "/contexts/health-v1.jsonld"} {
		b, err := l.Document(u)
		if err != nil || !json.Valid(b) {
			t.Errorf("%s: %v", u, err)
		}
	}
	if _, err := l.Document("https://w3id.org/security/v2"); err == nil {
		t.Error("served an unbundled context")
	}
	if _, err := NewLoader(Context{URL: CredentialsV2, Document: []byte(`{"@context": {}}`)}); err == nil {
		t.Error("let a bundled context be replaced")
	}
	if _, err := NewLoader(Context{URL: "https://x.example/c", Document: []byte(`{"a": 1}`)}); err == nil {
		t.Error("accepted a context document without @context")
	}
	if _, err := NewLoader(Context{URL: "relative", Document: []byte(`{"@context": {}}`)}); err == nil {
		t.Error("accepted a relative context URL")
	}
}

// TestInputNotModified: ToRDF leaves the caller's document alone, also when
// it rewrites null contexts.
func TestInputNotModified(t *testing.T) {
	p := testProcessor(t)
	src := `{"@context": [{"@vocab": "http://e.org/"}], "a": {"@context": null, "@id": "http://e.org/x"}, "b": [1, {"c": 2}]}`
	doc := decode(t, src)
	if _, err := p.ToRDF(doc); err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(decode(t, src))
	after, _ := json.Marshal(doc)
	if string(before) != string(after) {
		t.Fatalf("document changed:\n%s\n%s", before, after)
	}
}

func TestConcurrentToRDF(t *testing.T) {
	p := testProcessor(t)
	want := map[string]string{}
	for name, src := range corpus {
		out, err := testProcessor(t).Canonicalize(decode(t, src))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = string(out)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name, src := range corpus {
				got, err := p.Canonicalize(decode(t, src))
				if err != nil {
					t.Error(err)
					return
				}
				if string(got) != want[name] {
					t.Errorf("%s: concurrent result differs", name)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzToRDF(f *testing.F) {
	for _, src := range corpus {
		f.Add(src)
	}
	f.Add(`{"@context": {"@vocab": "http://e.org/", "@version": 1.1, "x": {"@type": "@vocab"}}, "x": "y", "@type": "T"}`)
	f.Add(`{"@context": [null, {"a": {"@id": "http://e.org/a", "@container": "@index"}}], "a": {"k": {"@value": 1}}}`)
	f.Add(`{"@context": {"p": {"@id": "_:p"}}, "p": 1}`)
	p := testProcessor(f)
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 8192 {
			return
		}
		var doc map[string]any
		if json.Unmarshal([]byte(src), &doc) != nil || doc == nil {
			return
		}
		start := time.Now()
		quads, err := p.ToRDF(doc)
		if err != nil {
			return
		}
		got, err := Canonicalize(quads)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v", d)
		}
		if errors.Is(err, ErrTooComplex) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !comparable(quads) || blankNodes(quads) > 16 {
			return // json-gold's URDNA2015 has no work limit
		}
		json.Unmarshal([]byte(src), &doc)
		want, err := goldNormalize(p.loader, doc)
		var je *ld.JsonLdError
		if errors.As(err, &je) && je.Code == ld.InvalidIRIMapping {
			// A term defined as a relative IRI: we map it under the
			// undefined-term @vocab, and refuse it only where used.
			return
		}
		if err != nil {
			t.Fatalf("we accepted what json-gold refuses (%v):\n%s", err, src)
		}
		if string(got) != want {
			t.Fatalf("input %s\ngot:\n%s\njson-gold:\n%s", src, got, want)
		}
	})
}
