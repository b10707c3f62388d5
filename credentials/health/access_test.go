package health

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/did"
)

// baseConsent is the valid consent fixture, decoded as a verifier would:
// patient did:example:patient123, grantee did:web:clinic.example, scopes
// patient/Observation.rs and patient/Condition.rs?category=problem-list-item,
// purposes TREAT and CAREMGT, from 2026-01-01T00:00Z to 2026-06-30T22:00Z,
// excluding PSY and HIV, not delegable.
func baseConsent(t *testing.T) HealthConsentCredential {
	t.Helper()
	c, err := DecodeAt(TypeHealthConsent, claimsOf(t, TypeHealthConsent), testNow)
	if err != nil {
		t.Fatal(err)
	}
	return *c.(*HealthConsentCredential)
}

func mustDID(t *testing.T, s string) did.DID {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func scopes(t *testing.T, ss ...string) []Scope {
	t.Helper()
	var out []Scope
	for _, s := range ss {
		sc, err := ParseScope(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

func TestDecide(t *testing.T) {
	patient := mustDID(t, "did:example:patient123")
	clinic := mustDID(t, "did:web:clinic.example")
	other := mustDID(t, "did:web:other.example")
	delegate := mustDID(t, "did:jwk:eyJrdHkiOiJPS1AifQ")
	baseReq := AccessRequest{
		Patient: patient, Presenter: clinic, ResourceType: "Observation", Interaction: InteractionRead,
		Purpose: PurposeTreatment, ConsentStatus: ConsentValid,
	}
	type mod struct {
		consent func(*HealthConsentCredential)
		req     func(*AccessRequest)
		now     time.Time
	}
	for _, tc := range []struct {
		name    string
		mod     mod
		permit  bool
		denials []ReasonCode // every denial expected, in any order
		granted []string     // the scopes named when permitted
	}{
		{name: "read an observation", permit: true, granted: []string{"patient/Observation.rs"}},
		{name: "search observations", mod: mod{req: func(r *AccessRequest) { r.Interaction = InteractionSearch }}, permit: true},
		{name: "search observations with any filter", mod: mod{req: func(r *AccessRequest) {
			r.Interaction = InteractionSearch
			r.Params = url.Values{"code": {"1234-5"}}
		}}, permit: true},

		// The SMART grammar: interactions, resource types, wildcards and filters.
		{name: "create is not granted", mod: mod{req: func(r *AccessRequest) { r.Interaction = InteractionCreate }}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "update is not granted", mod: mod{req: func(r *AccessRequest) { r.Interaction = InteractionUpdate }}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "delete is not granted", mod: mod{req: func(r *AccessRequest) { r.Interaction = InteractionDelete }}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "another resource type", mod: mod{req: func(r *AccessRequest) { r.ResourceType = "MedicationRequest" }}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "all types without a wildcard scope", mod: mod{req: func(r *AccessRequest) { r.ResourceType = "*" }}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "wildcard scope covers any type", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Scopes = scopes(t, "patient/*.rs") },
			req:     func(r *AccessRequest) { r.ResourceType = "MedicationRequest"; r.Interaction = InteractionSearch },
		}, permit: true, granted: []string{"patient/*.rs"}},
		{name: "wildcard scope covers a cross-type search", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Scopes = scopes(t, "patient/*.rs") },
			req:     func(r *AccessRequest) { r.ResourceType = "*"; r.Interaction = InteractionSearch },
		}, permit: true},
		{name: "wildcard scope grants only its interactions", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Scopes = scopes(t, "patient/*.rs") },
			req:     func(r *AccessRequest) { r.Interaction = InteractionUpdate },
		}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "cruds grants delete", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Scopes = scopes(t, "patient/Observation.cruds") },
			req:     func(r *AccessRequest) { r.Interaction = InteractionDelete },
		}, permit: true},
		{name: "filtered scope with the filter", mod: mod{req: func(r *AccessRequest) {
			r.ResourceType = "Condition"
			r.Interaction = InteractionSearch
			r.Params = url.Values{"category": {"problem-list-item"}}
		}}, permit: true, granted: []string{"patient/Condition.rs?category=problem-list-item"}},
		{name: "filtered scope with the filter and a narrower parameter", mod: mod{req: func(r *AccessRequest) {
			r.ResourceType = "Condition"
			r.Interaction = InteractionSearch
			r.Params = url.Values{"category": {"problem-list-item"}, "clinical-status": {"active"}}
		}}, permit: true},
		{name: "filtered scope without the filter", mod: mod{req: func(r *AccessRequest) {
			r.ResourceType = "Condition"
			r.Interaction = InteractionSearch
		}}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "filtered scope with another filter value", mod: mod{req: func(r *AccessRequest) {
			r.ResourceType = "Condition"
			r.Interaction = InteractionSearch
			r.Params = url.Values{"category": {"encounter-diagnosis"}}
		}}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "filtered scope with the filter plus another alternative", mod: mod{req: func(r *AccessRequest) {
			r.ResourceType = "Condition"
			r.Interaction = InteractionSearch
			r.Params = url.Values{"category": {"problem-list-item,encounter-diagnosis"}}
		}}, denials: []ReasonCode{ReasonScopeNotGranted}},
		{name: "read of a filtered resource matching the filter", mod: mod{req: func(r *AccessRequest) {
			r.ResourceType = "Condition"
			r.Params = url.Values{"category": {"problem-list-item"}}
		}}, permit: true},
		{name: "several scopes grant", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Scopes = scopes(t, "patient/Observation.rs", "patient/*.r") },
		}, permit: true, granted: []string{"patient/Observation.rs", "patient/*.r"}},

		// Purpose.
		{name: "another granted purpose", mod: mod{req: func(r *AccessRequest) { r.Purpose = PurposeCareManagement }}, permit: true},
		{name: "purpose not granted", mod: mod{req: func(r *AccessRequest) { r.Purpose = PurposeResearch }}, denials: []ReasonCode{ReasonPurposeNotGranted}},
		{name: "emergency treatment is not treatment", mod: mod{req: func(r *AccessRequest) { r.Purpose = PurposeEmergencyTreatment }}, denials: []ReasonCode{ReasonPurposeNotGranted}},
		{name: "no purpose", mod: mod{req: func(r *AccessRequest) { r.Purpose = "" }}, denials: []ReasonCode{ReasonInvalidRequest}},
		{name: "unknown purpose", mod: mod{req: func(r *AccessRequest) { r.Purpose = "treat" }}, denials: []ReasonCode{ReasonInvalidRequest, ReasonPurposeNotGranted}},

		// Validity period: from inclusive, until exclusive.
		{name: "at valid_from", mod: mod{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, permit: true},
		{name: "before valid_from", mod: mod{now: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)}, denials: []ReasonCode{ReasonNotYetValid}},
		{name: "just before valid_until", mod: mod{now: time.Date(2026, 6, 30, 21, 59, 59, 0, time.UTC)}, permit: true},
		{name: "at valid_until", mod: mod{now: time.Date(2026, 7, 1, 0, 0, 0, 0, time.FixedZone("", 2*3600))}, denials: []ReasonCode{ReasonExpired}},
		{name: "request time after valid_until", mod: mod{req: func(r *AccessRequest) { r.Time = time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC) }}, denials: []ReasonCode{ReasonExpired}},
		{name: "request time back-dated into the period", mod: mod{
			req: func(r *AccessRequest) { r.Time = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) },
			now: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC),
		}, denials: []ReasonCode{ReasonExpired}},
		{name: "request time inside the period", mod: mod{req: func(r *AccessRequest) { r.Time = testNow.Add(time.Hour) }}, permit: true},

		// Sensitivity labels.
		{name: "unexcluded label", mod: mod{req: func(r *AccessRequest) { r.Labels = []SensitivityLabel{LabelSubstanceUse} }}, permit: true},
		{name: "excluded label", mod: mod{req: func(r *AccessRequest) { r.Labels = []SensitivityLabel{LabelPsychiatry} }}, denials: []ReasonCode{ReasonLabelExcluded}},
		{name: "excluded label among others", mod: mod{req: func(r *AccessRequest) {
			r.Labels = []SensitivityLabel{LabelSubstanceUse, LabelHIV, LabelPsychiatry, LabelHIV}
		}}, denials: []ReasonCode{ReasonLabelExcluded, ReasonLabelExcluded}},
		{name: "unknown label", mod: mod{req: func(r *AccessRequest) { r.Labels = []SensitivityLabel{"psy"} }}, denials: []ReasonCode{ReasonInvalidRequest}},
		{name: "consent without exclusions", mod: mod{
			consent: func(c *HealthConsentCredential) { c.ExcludedLabels = nil },
			req:     func(r *AccessRequest) { r.Labels = []SensitivityLabel{LabelPsychiatry} },
		}, permit: true},

		// Patient.
		{name: "another patient", mod: mod{req: func(r *AccessRequest) { r.Patient = mustDID(t, "did:example:patient999") }}, denials: []ReasonCode{ReasonPatientMismatch}},
		{name: "no patient", mod: mod{req: func(r *AccessRequest) { r.Patient = did.DID{} }}, denials: []ReasonCode{ReasonInvalidRequest}},

		// Grantee and delegation.
		{name: "presenter is not the grantee", mod: mod{req: func(r *AccessRequest) { r.Presenter = other }}, denials: []ReasonCode{ReasonGranteeMismatch}},
		{name: "no presenter", mod: mod{req: func(r *AccessRequest) { r.Presenter = did.DID{} }}, denials: []ReasonCode{ReasonInvalidRequest}},
		{name: "delegate of a non-delegable consent", mod: mod{req: func(r *AccessRequest) { r.Presenter = delegate; r.DelegatedBy = clinic }},
			denials: []ReasonCode{ReasonNotDelegable}},
		{name: "delegate of a delegable consent", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Delegable = true },
			req:     func(r *AccessRequest) { r.Presenter = delegate; r.DelegatedBy = clinic },
		}, permit: true},
		{name: "delegation from someone other than the grantee", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Delegable = true },
			req:     func(r *AccessRequest) { r.Presenter = delegate; r.DelegatedBy = other },
		}, denials: []ReasonCode{ReasonDelegationMismatch}},
		{name: "delegable consent, but the presenter shows no delegation", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Delegable = true },
			req:     func(r *AccessRequest) { r.Presenter = delegate },
		}, denials: []ReasonCode{ReasonGranteeMismatch}},

		// Status.
		{name: "revoked", mod: mod{req: func(r *AccessRequest) { r.ConsentStatus = ConsentRevoked }}, denials: []ReasonCode{ReasonRevoked}},
		{name: "suspended", mod: mod{req: func(r *AccessRequest) { r.ConsentStatus = ConsentSuspended }}, denials: []ReasonCode{ReasonSuspended}},
		{name: "status not checked", mod: mod{req: func(r *AccessRequest) { r.ConsentStatus = "" }}, denials: []ReasonCode{ReasonStatusUnknown}},
		{name: "unknown status", mod: mod{req: func(r *AccessRequest) { r.ConsentStatus = "VALID" }}, denials: []ReasonCode{ReasonStatusUnknown}},

		// Malformed requests and consents.
		{name: "unknown resource type", mod: mod{req: func(r *AccessRequest) { r.ResourceType = "observation" }}, denials: []ReasonCode{ReasonInvalidRequest, ReasonScopeNotGranted}},
		{name: "no interaction", mod: mod{req: func(r *AccessRequest) { r.Interaction = 0 }}, denials: []ReasonCode{ReasonInvalidRequest, ReasonScopeNotGranted}},
		{name: "unknown interaction", mod: mod{req: func(r *AccessRequest) { r.Interaction = 'x' }}, denials: []ReasonCode{ReasonInvalidRequest, ReasonScopeNotGranted}},
		{name: "consent without scopes", mod: mod{consent: func(c *HealthConsentCredential) { c.Scopes = nil }}, denials: []ReasonCode{ReasonInvalidConsent, ReasonScopeNotGranted}},
		{name: "consent with a user scope", mod: mod{consent: func(c *HealthConsentCredential) { c.Scopes = scopes(t, "user/Observation.rs") }},
			denials: []ReasonCode{ReasonInvalidConsent, ReasonScopeNotGranted}},
		{name: "zero consent", mod: mod{consent: func(c *HealthConsentCredential) { *c = HealthConsentCredential{} }},
			denials: []ReasonCode{ReasonInvalidConsent, ReasonPatientMismatch, ReasonGranteeMismatch, ReasonPurposeNotGranted, ReasonScopeNotGranted}},

		// Deny wins: a granting scope never outweighs a denial, and every
		// denial is reported.
		{name: "granted scope, but revoked and expired", mod: mod{
			req: func(r *AccessRequest) { r.ConsentStatus = ConsentRevoked },
			now: time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC),
		}, denials: []ReasonCode{ReasonRevoked, ReasonExpired}},
		{name: "granted scope, but an excluded label and a wrong purpose", mod: mod{req: func(r *AccessRequest) {
			r.Labels = []SensitivityLabel{LabelHIV}
			r.Purpose = PurposeMarketing
		}}, denials: []ReasonCode{ReasonLabelExcluded, ReasonPurposeNotGranted}},
		{name: "wildcard grant, but the data is excluded", mod: mod{
			consent: func(c *HealthConsentCredential) { c.Scopes = scopes(t, "patient/*.cruds") },
			req:     func(r *AccessRequest) { r.Labels = []SensitivityLabel{LabelPsychiatry} },
		}, denials: []ReasonCode{ReasonLabelExcluded}},
		{name: "everything wrong at once", mod: mod{
			req: func(r *AccessRequest) {
				r.Patient = mustDID(t, "did:example:someone-else")
				r.Presenter = other
				r.Interaction = InteractionDelete
				r.Purpose = PurposeMarketing
				r.Labels = []SensitivityLabel{LabelPsychiatry}
				r.ConsentStatus = ConsentSuspended
			},
			now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		}, denials: []ReasonCode{ReasonSuspended, ReasonNotYetValid, ReasonPatientMismatch, ReasonGranteeMismatch,
			ReasonPurposeNotGranted, ReasonLabelExcluded, ReasonScopeNotGranted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConsent(t)
			req := baseReq
			if tc.mod.consent != nil {
				tc.mod.consent(&c)
			}
			if tc.mod.req != nil {
				tc.mod.req(&req)
			}
			now := testNow
			if !tc.mod.now.IsZero() {
				now = tc.mod.now
			}
			d := Decide(c, req, now)
			if d.Permit != tc.permit {
				t.Fatalf("permit %v, want %v: %+v", d.Permit, tc.permit, d.Reasons)
			}
			var codes []ReasonCode
			var granted []string
			for _, r := range d.Reasons {
				if r.Message == "" {
					t.Errorf("reason %s without a message", r.Code)
				}
				if r.Code == ReasonScopeGranted {
					granted = append(granted, strings.TrimPrefix(r.Message, "granted by scope "))
					continue
				}
				codes = append(codes, r.Code)
			}
			if tc.permit {
				if len(codes) != 0 || len(granted) == 0 {
					t.Fatalf("a permit with denials %v or without a granting scope", codes)
				}
				if tc.granted != nil && !slices.Equal(granted, tc.granted) {
					t.Fatalf("granted by %v, want %v", granted, tc.granted)
				}
				return
			}
			if len(granted) != 0 {
				t.Fatalf("a denial lists granting scopes %v", granted)
			}
			slices.Sort(codes)
			want := slices.Clone(tc.denials)
			slices.Sort(want)
			if !slices.Equal(codes, want) {
				t.Fatalf("denials %v, want %v (%+v)", codes, want, d.Reasons)
			}
		})
	}
}

func TestDecideReasonsDoNotLeak(t *testing.T) {
	c := baseConsent(t)
	req := AccessRequest{
		Patient: mustDID(t, "did:example:patient999"), Presenter: mustDID(t, "did:web:secret-clinic.example"),
		ResourceType: "NotAType<script>", Interaction: 'r', Purpose: "SECRET-PURPOSE", ConsentStatus: ConsentValid,
		Labels: []SensitivityLabel{"SECRET-LABEL"},
	}
	d := Decide(c, req, testNow)
	if d.Permit {
		t.Fatal("permitted")
	}
	for _, r := range d.Reasons {
		for _, s := range []string{"patient999", "patient123", "secret-clinic", "<script>", "SECRET"} {
			if strings.Contains(r.Message, s) {
				t.Errorf("reason %s quotes %q: %s", r.Code, s, r.Message)
			}
		}
	}
	if !d.Has(ReasonInvalidRequest) || d.Has(ReasonScopeGranted) {
		t.Fatalf("%+v", d.Reasons)
	}
}

func TestInteraction(t *testing.T) {
	for _, i := range []Interaction{InteractionCreate, InteractionRead, InteractionUpdate, InteractionDelete, InteractionSearch} {
		if !i.Valid() || len(i.String()) != 1 || !Permissions(PermCreate|PermRead|PermUpdate|PermDelete|PermSearch).Has(rune(i)) {
			t.Errorf("%c", i)
		}
	}
	for _, i := range []Interaction{0, 'x', 'R', '*'} {
		if i.Valid() || i.String() != "?" {
			t.Errorf("%q valid", i)
		}
	}
}
