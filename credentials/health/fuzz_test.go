package health

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"
)

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"patient/Observation.rs",
		"patient/*.r",
		"user/Condition.cruds",
		"system/Patient.s",
		"patient/Condition.rs?category=problem-list-item",
		"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory&status=final",
		"patient/Observation.rs?category=a,b",
		"patient/Observation.sr",
		"patient/Observation.read",
		"patient/Observation.rs?category=%zz",
		"patient/Observation.rs?a=1&a=2",
		"patient/.rs",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidScope) {
				t.Fatalf("ParseScope(%q) error %v does not wrap ErrInvalidScope", s, err)
			}
			if !sc.IsZero() {
				t.Fatalf("ParseScope(%q) returned a scope with an error", s)
			}
			return
		}
		if sc.String() != s || sc.Permissions() == 0 || sc.Permissions() >= 1<<5 {
			t.Fatalf("ParseScope(%q) = %q perms %d", s, sc, sc.Permissions())
		}
		again, err := ParseScope(sc.String())
		if err != nil || !reflect.DeepEqual(again, sc) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
		// A scope allows every request that satisfies its own constraints
		// and every interaction it lists.
		rtype := sc.ResourceType()
		if rtype == "*" {
			rtype = "Observation"
		}
		for _, ia := range sc.Permissions().String() {
			if !sc.Allows(ia, rtype, sc.Query()) {
				t.Fatalf("%q does not allow %q on its own constraints", s, ia)
			}
		}
		if sc.Allows('x', rtype, sc.Query()) {
			t.Fatalf("%q allows 'x'", s)
		}
		if len(sc.Query()) > 0 && sc.Allows([]rune(sc.Permissions().String())[0], rtype, url.Values{}) {
			t.Fatalf("%q allows a request that ignores its constraints", s)
		}
	})
}

func FuzzDecode(f *testing.F) {
	names := []string{TypePatientIdentity, TypeHealthConsent, TypePractitioner, TypeOrganization}
	for i, n := range names {
		f.Add(uint8(i), []byte(validClaims[n]))
	}
	f.Add(uint8(0), []byte(`{"given_name":null}`))
	f.Add(uint8(1), []byte(`{"scopes":[1,"patient/*.r"],"grantee":[]}`))
	f.Add(uint8(2), []byte(`{"identifiers":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893","type":"NPI","x":1}]}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		name := names[int(which)%len(names)]
		var claims map[string]any
		if json.Unmarshal(data, &claims) != nil {
			return
		}
		cred, err := DecodeAt(name, claims, testNow)
		if err != nil {
			var ves ValidationErrors
			if !errors.As(err, &ves) || len(ves) == 0 {
				t.Fatalf("Decode error %v is not a non-empty ValidationErrors", err)
			}
			for _, ve := range ves {
				if ve.Field == "" || ve.Reason == "" {
					t.Fatalf("empty field or reason in %v", err)
				}
			}
			return
		}
		// A decoded credential re-encodes to claims that decode to the
		// same credential.
		b, err := json.Marshal(cred)
		if err != nil {
			t.Fatal(err)
		}
		var again map[string]any
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatal(err)
		}
		cred2, err := DecodeAt(name, again, testNow)
		if err != nil {
			t.Fatalf("re-encoded credential does not decode: %v\n%s", err, b)
		}
		b2, _ := json.Marshal(cred2)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the credential:\n%s\n%s", b, b2)
		}
	})
}
