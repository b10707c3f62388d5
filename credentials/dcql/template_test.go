package dcql

import (
	"errors"
	"slices"
	"testing"

	"github.com/medid/medid/credentials/health"
)

func TestTemplates(t *testing.T) {
	const base = "https://medid.example/"
	if _, err := Template("nope", base); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("unknown template: %v", err)
	}
	for _, bad := range []string{"", "medid.example", "ftp://medid.example", "https://medid.example?x=1"} {
		if _, err := Template(TemplateConsent, bad); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("base %q: %v", bad, err)
		}
	}
	for _, name := range TemplateNames() {
		q, err := Template(name, base)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	// The patient identity query: a patient with both names discloses
	// both; one with a single name still matches.
	pid, _ := PatientIdentity(base)
	pt, _ := healthType(health.TypePatientIdentity)
	vct := pt.VCT(base)
	if pid.Credentials[0].Meta.VCTValues[0] != vct || vct != "https://medid.example/vct/PatientIdentityCredential" {
		t.Fatalf("vct %v", pid.Credentials[0].Meta.VCTValues)
	}
	full := `{"given_name":"Ada","family_name":"Lovelace","birthdate":"1990-12-10","gender":"female","identifiers":[],"assurance_level":"high"}`
	r := pid.Match([]Candidate{sdCand(t, vct, full)})
	if !r.Satisfied || paths(r.Matches[PatientIdentityID][0].Disclose) != `[["given_name"],["family_name"],["birthdate"]]` {
		t.Fatalf("%+v", r)
	}
	r = pid.Match([]Candidate{sdCand(t, vct, `{"family_name":"Teller","birthdate":"1948-02-14"}`)})
	if !r.Satisfied || r.Matches[PatientIdentityID][0].ClaimSet != 2 {
		t.Fatalf("single name: %+v", r)
	}
	if r := pid.Match([]Candidate{sdCand(t, vct, `{"given_name":"Ada","family_name":"Lovelace"}`)}); r.Satisfied {
		t.Fatal("matched without a birthdate")
	}
	if r := pid.Match([]Candidate{sdCand(t, "https://other.example/vct/PatientIdentityCredential", full)}); r.Satisfied {
		t.Fatal("matched another issuer's type")
	}

	// The consent query: with or without excluded labels.
	cq, _ := Consent(base)
	cvct := "https://medid.example/vct/HealthConsentCredential"
	consent := `{"patient":"did:example:p","grantee":{"id":"did:web:c.example","name":"C","kind":"clinic"},"scopes":["patient/Observation.rs"],
	  "purposes":["TREAT"],"valid_from":"2026-01-01T00:00:00Z","valid_until":"2026-07-01T00:00:00Z","delegable":false`
	r = cq.Match([]Candidate{sdCand(t, cvct, consent+`,"excluded_labels":["PSY"]}`)})
	if !r.Satisfied || r.Matches[ConsentID][0].ClaimSet != 0 || len(r.Matches[ConsentID][0].Disclose) != 8 {
		t.Fatalf("%+v", r)
	}
	r = cq.Match([]Candidate{sdCand(t, cvct, consent+`}`)})
	if !r.Satisfied || r.Matches[ConsentID][0].ClaimSet != 1 {
		t.Fatalf("without labels: %+v", r)
	}
	if r := cq.Match([]Candidate{sdCand(t, cvct, `{"patient":"did:example:p"}`)}); r.Satisfied {
		t.Fatal("a partial consent matched")
	}
	// Every claim the consent query names is a top-level consent claim.
	ct, _ := healthType(health.TypeHealthConsent)
	for _, p := range cq.Credentials[0].ClaimPaths() {
		if !slices.ContainsFunc(ct.Claims, func(c health.Claim) bool { return Path(c.Path).Equal(p) }) {
			t.Errorf("%v is not a consent claim", p)
		}
	}
}
