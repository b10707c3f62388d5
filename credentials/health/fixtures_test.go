package health

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of the tests.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// Valid claim sets of each type (fictional people and organizations).
var validClaims = map[string]string{
	TypePatientIdentity: `{
		"given_name": "Ada",
		"family_name": "Lovelace",
		"birthdate": "1990-12-10",
		"gender": "female",
		"identifiers": [
			{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"},
			{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "999999990", "type": "NHI"}
		],
		"address": {"street_address": "1 Main Street", "locality": "Springfield", "postal_code": "12345", "country": "US"},
		"assurance_level": "substantial"
	}`,
	TypeHealthConsent: `{
		"patient": "did:example:patient123",
		"grantee": {"id": "did:web:clinic.example", "name": "Example Clinic", "kind": "clinic"},
		"scopes": ["patient/Observation.rs", "patient/Condition.rs?category=problem-list-item"],
		"purposes": ["TREAT", "CAREMGT"],
		"valid_from": "2026-01-01T00:00:00Z",
		"valid_until": "2026-07-01T00:00:00+02:00",
		"excluded_labels": ["PSY", "HIV"],
		"delegable": false
	}`,
	TypePractitioner: `{
		"name": "Grace Hopper",
		"identifiers": [
			{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893", "type": "NPI"},
			{"system": "https://register.example/physicians", "value": "P-777", "type": "NATIONAL_REGISTER"}
		],
		"licence": {"number": "MD-12345", "jurisdiction": "US-CA", "expires": "2027-12-31"},
		"role": {"system": "http://snomed.info/sct", "code": "309343006", "display": "Physician"}
	}`,
	TypeOrganization: `{
		"name": "Example Clinic",
		"identifiers": [{"system": "urn:oid:1.2.3.4.5", "value": "ORG-1", "type": "NATIONAL_REGISTER"}],
		"role": "clinic",
		"address": {"formatted": "1 Clinic Road\nSpringfield"}
	}`,
}

// claimsOf returns a fresh decoded copy of the valid claims of typ.
func claimsOf(t testing.TB, typ string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(validClaims[typ]), &m); err != nil {
		t.Fatalf("fixture %s: %v", typ, err)
	}
	return m
}

// deleted, as a mutation value, removes the member.
type deletedT struct{}

var deleted deletedT

// mutate sets (or with deleted, removes) the value at path, a dotted path
// whose numeric segments index arrays ("identifiers.1.system").
func mutate(t testing.TB, m map[string]any, path string, v any) {
	t.Helper()
	segs := strings.Split(path, ".")
	var cur any = m
	for i, seg := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if v == deleted {
					delete(c, seg)
				} else {
					c[seg] = v
				}
				return
			}
			cur = c[seg]
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n >= len(c) {
				t.Fatalf("mutate %s: bad index %q", path, seg)
			}
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			t.Fatalf("mutate %s: cannot descend into %T", path, cur)
		}
	}
}

// fieldsOf returns the invalid fields an error reports (nil for nil).
func fieldsOf(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	ves, ok := err.(ValidationErrors)
	if !ok {
		t.Fatalf("error %v (%T) is not a ValidationErrors", err, err)
	}
	f := ves.Fields()
	slices.Sort(f)
	return f
}
