package health_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/medid/medid/credentials/health"
)

func ExampleParseScope() {
	s, err := health.ParseScope("patient/Condition.rs?category=problem-list-item")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Context(), s.ResourceType(), s.Permissions(), s.Query().Get("category"))

	_, err = health.ParseScope("patient/Observation.read")
	fmt.Println(err)
	// Output:
	// patient Condition rs problem-list-item
	// invalid SMART scope: SMART v1 permission "read" is not accepted; use "rs"
}

func ExampleScope_Allows() {
	s, _ := health.ParseScope("patient/Observation.rs?category=laboratory")
	lab := url.Values{"category": {"laboratory"}}
	vitals := url.Values{"category": {"vital-signs"}}
	fmt.Println(s.Allows('s', "Observation", lab))
	fmt.Println(s.Allows('s', "Observation", vitals))
	fmt.Println(s.Allows('s', "Observation", nil))
	fmt.Println(s.Allows('u', "Observation", lab))
	// Output:
	// true
	// false
	// false
	// false
}

func ExampleDecode() {
	var claims map[string]any
	_ = json.Unmarshal([]byte(`{
		"patient": "did:example:patient123",
		"grantee": {"id": "did:web:clinic.example", "name": "Example Clinic", "kind": "clinic"},
		"scopes": ["patient/Observation.rs", "patient/Observation.sr"],
		"purposes": ["TREAT"],
		"valid_from": "2026-01-01T00:00:00Z",
		"valid_until": "2025-01-01T00:00:00Z",
		"delegable": false,
		"note": "call me"
	}`), &claims)
	_, err := health.DecodeAt(health.TypeHealthConsent, claims, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var ves health.ValidationErrors
	if errors.As(err, &ves) {
		for _, ve := range ves {
			fmt.Println(ve.Field)
		}
	}

	delete(claims, "note")
	claims["scopes"] = []any{"patient/Observation.rs"}
	claims["valid_until"] = "2026-07-01T00:00:00Z"
	cred, err := health.DecodeAt(health.TypeHealthConsent, claims, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	consent := cred.(*health.HealthConsentCredential)
	fmt.Println(consent.Grantee.Name, consent.Scopes[0].Allows('r', "Observation", nil))
	// Output:
	// note
	// scopes[1]
	// valid_until
	// Example Clinic true
}

func ExampleValidNPI() {
	fmt.Println(health.ValidNPI("1234567893"), health.ValidNPI("1234567890"))
	// Output: true false
}
