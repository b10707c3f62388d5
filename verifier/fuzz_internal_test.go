package verifier

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseInput feeds arbitrary VC-API values to the input parser: it
// must not panic, must fail with an input error, and must never hand on a
// token over the size limit.
func FuzzParseInput(f *testing.F) {
	for _, s := range []string{
		`"eyJhbGciOiJFUzI1NiJ9.e30.c2ln~WyJzIiwibiIsInYiXQ~"`,
		`"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"`,
		`{"type":"EnvelopedVerifiableCredential","id":"data:application/dc+sd-jwt,a.b.c~"}`,
		`{"type":["EnvelopedVerifiablePresentation"],"id":"data:application/vp+jwt;base64,YS5iLmM="}`,
		`{"type":"EnvelopedVerifiableCredential","id":"data:application/vc+jwt,a%2Eb%2Ec"}`,
		`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"proof":{}}`,
		`42`, `null`, `"`, `{"type":"EnvelopedVerifiableCredential","id":"data:,"}`, `[]`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, presentation bool) {
		in, err := parseInput(raw, presentation)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("not an input error: %v", err)
			}
			return
		}
		if (in.doc == nil) == (in.compact == "") {
			t.Fatalf("exactly one of doc and compact must be set: %+v", in)
		}
		if len(in.compact) > MaxTokenSize || len(in.doc) > MaxTokenSize {
			t.Fatal("a token over the limit got through")
		}
	})
}

// FuzzParseJWTVP feeds arbitrary compact tokens to the JWT VP parser.
func FuzzParseJWTVP(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImRpZDpleDphI2sifQ.eyJ2cCI6e30sIm5vbmNlIjoibiIsImF1ZCI6WyJhIl0sImlhdCI6MX0.c2ln",
		"a.b.c", "..", "e30.e30.", "eyJhbGciOiJub25lIn0.eyJ2cCI6bnVsbH0.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		h, c, err := parseJWTVP(tok)
		if err == nil && (h == nil || c == nil) {
			t.Fatal("nil result without an error")
		}
		if err == nil {
			_ = typOK(h.Typ)
			_ = audienceOK(c.Aud, "x")
			_, _ = numericDate(c.Iat)
		}
	})
}

// FuzzSchema checks arbitrary claim sets (as a wallet may disclose them)
// against every health type, and walks arbitrary field paths.
func FuzzSchema(f *testing.F) {
	f.Add(`{"given_name":"Ada","birthdate":"1990-12-10","assurance_level":"low","identifiers":[{"system":"urn:oid:1.2","value":"x","type":"MRN"}]}`, `identifiers[0].system`)
	f.Add(`{"patient":"did:example:1","scopes":["patient/*.rs"],"x":{"a":[1,2]}}`, `["weird name"].a[1]`)
	f.Add(`{}`, `(claims)`)
	f.Add(`[]`, `a.b[99999999999999999999]`)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, claimsJSON, field string) {
		var claims map[string]any
		if json.Unmarshal([]byte(claimsJSON), &claims) != nil {
			claims = map[string]any{}
		}
		_ = present(claims, field)
		_ = topLevel(field)
		for _, typ := range []string{"PatientIdentityCredential", "HealthConsentCredential", "PractitionerCredential", "OrganizationCredential"} {
			for _, partial := range []bool{true, false} {
				ok, reason := checkSchema(typ, claims, partial, now)
				if !ok && (reason == "" || !utf8.ValidString(reason) && utf8.ValidString(claimsJSON)) {
					t.Fatalf("failed without a clear reason: %q", reason)
				}
			}
		}
	})
}

// FuzzDataURL feeds arbitrary data: URLs to the envelope parser.
func FuzzDataURL(f *testing.F) {
	for _, s := range []string{"data:application/vc+jwt,a.b.c", "data:application/dc+sd-jwt;base64,YQ==", "data:text/plain,x", "data:", "data:,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		media, _, err := parseDataURL(s)
		if err == nil && strings.ContainsAny(media, ",") {
			t.Fatalf("media type %q holds a comma", media)
		}
	})
}

// FuzzPlainString: plainString reads a JSON string as encoding/json does,
// or leaves it to encoding/json.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"a.b.c~d~"`, `"a\"b"`, `"a\\b"`, `"\u0041"`, "\"a\x01\"", "\"\xff\"", `"é"`, `""`, `"`, `"a"b"`, `a"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, ok := plainString(raw)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil || s != want {
			t.Fatalf("%q: plainString gives %q, encoding/json %q, %v", raw, s, want, err)
		}
	})
}
