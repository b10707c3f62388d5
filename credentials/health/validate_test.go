package health

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/did"
)

type mutation struct {
	path  string // dotted path to change, "" for none
	value any    // new value, or deleted
	want  []string
}

func runMutations(t *testing.T, typ string, cases []mutation) {
	t.Helper()
	for _, tc := range cases {
		name := tc.path + "=" + describe(tc.value)
		t.Run(name, func(t *testing.T) {
			m := claimsOf(t, typ)
			if tc.path != "" {
				mutate(t, m, tc.path, tc.value)
			}
			cred, err := DecodeAt(typ, m, testNow)
			got := fieldsOf(t, err)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("invalid fields = %q, want %q (err: %v)", got, want, err)
			}
			if err == nil && cred.CredentialType() != typ {
				t.Fatalf("CredentialType = %q", cred.CredentialType())
			}
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("errors.As(*ValidationError) failed on %v", err)
				}
			}
		})
	}
}

func describe(v any) string {
	switch v := v.(type) {
	case deletedT:
		return "deleted"
	case string:
		if len(v) > 20 {
			return v[:20] + "…"
		}
		return v
	}
	return "…"
}

func TestPatientIdentityValidation(t *testing.T) {
	long := strings.Repeat("a", 257)
	npi := map[string]any{"system": NPISystem, "value": "1234567893", "type": "MRN"}
	runMutations(t, TypePatientIdentity, []mutation{
		{"", nil, nil},
		{"given_name", deleted, nil},
		{"family_name", deleted, nil},
		{"given_name", " Ada", []string{"given_name"}},
		{"given_name", "A\x07da", []string{"given_name"}},
		{"given_name", long, []string{"given_name"}},
		{"given_name", "", []string{"given_name"}},
		{"given_name", 42.0, []string{"given_name"}},
		{"family_name", "Love\nlace", []string{"family_name"}},
		{"birthdate", "1990-02-30", []string{"birthdate"}},
		{"birthdate", "1990/01/01", []string{"birthdate"}},
		{"birthdate", "90-01-01", []string{"birthdate"}},
		{"birthdate", "2026-03-02", nil}, // already today in UTC+14
		{"birthdate", "2026-03-03", []string{"birthdate"}},
		{"birthdate", "1849-12-31", []string{"birthdate"}},
		{"birthdate", 19900101.0, []string{"birthdate"}},
		{"birthdate", deleted, []string{"birthdate"}},
		{"gender", "f", []string{"gender"}},
		{"gender", "unknown", nil},
		{"gender", deleted, []string{"gender"}},
		{"identifiers", []any{}, []string{"identifiers"}},
		{"identifiers", deleted, []string{"identifiers"}},
		{"identifiers", "MRN-0042", []string{"identifiers"}},
		{"identifiers.1.system", "not a uri", []string{"identifiers[1].system"}},
		{"identifiers.1.system", "urn:oid:1.02.3", []string{"identifiers[1].system"}},
		{"identifiers.1.system", "urn:oid:3.1", []string{"identifiers[1].system"}},
		{"identifiers.0.system", "https:///mrn", []string{"identifiers[0].system"}},
		{"identifiers.0.system", "https://hospital.example/mrn#x", []string{"identifiers[0].system"}},
		{"identifiers.0.system", deleted, []string{"identifiers[0].system"}},
		{"identifiers.0.value", "", []string{"identifiers[0].value"}},
		{"identifiers.0.value", "MRN 0042 ", []string{"identifiers[0].value"}},
		{"identifiers.0.type", "NPI", []string{"identifiers[0].type"}},
		{"identifiers.0.type", "mrn", []string{"identifiers[0].type"}},
		{"identifiers.0", npi, []string{"identifiers[0].system"}},
		{"identifiers.0.extra", "x", []string{"identifiers[0].extra"}},
		{"identifiers.1", map[string]any{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}, []string{"identifiers[1]"}},
		{"identifiers.1", nil, []string{"identifiers[1]"}},
		{"address", map[string]any{}, []string{"address"}},
		{"address", nil, []string{"address"}},
		{"address", deleted, nil},
		{"address.city", "Springfield", []string{"address.city"}},
		{"address.street_address", "1 Main Street\nFlat 2", nil},
		{"address.locality", "Spring\nfield", []string{"address.locality"}},
		{"address.formatted", strings.Repeat("x", 1025), []string{"address.formatted"}},
		{"assurance_level", "IAL2", []string{"assurance_level"}},
		{"assurance_level", deleted, []string{"assurance_level"}},
		{"email", "ada@example.com", []string{"email"}},
	})
	t.Run("no names", func(t *testing.T) {
		m := claimsOf(t, TypePatientIdentity)
		delete(m, "given_name")
		delete(m, "family_name")
		_, err := DecodeAt(TypePatientIdentity, m, testNow)
		if got := fieldsOf(t, err); !slices.Equal(got, []string{"given_name"}) {
			t.Fatalf("fields = %q", got)
		}
	})
}

func TestHealthConsentValidation(t *testing.T) {
	runMutations(t, TypeHealthConsent, []mutation{
		{"", nil, nil},
		{"patient", "not-a-did", []string{"patient"}},
		{"patient", "did:example:", []string{"patient"}},
		{"patient", "did:example:x#frag", []string{"patient"}},
		{"patient", deleted, []string{"patient"}},
		{"grantee.id", "clinic", []string{"grantee.id"}},
		{"grantee.name", "", []string{"grantee.name"}},
		{"grantee.kind", "hospital", []string{"grantee.kind"}},
		{"grantee.url", "https://clinic.example", []string{"grantee.url"}},
		{"grantee", deleted, []string{"grantee.id", "grantee.kind", "grantee.name"}},
		{"grantee", "did:web:clinic.example", []string{"grantee"}},
		{"scopes", []any{}, []string{"scopes"}},
		{"scopes", deleted, []string{"scopes"}},
		{"scopes.1", "patient/Observation.sr", []string{"scopes[1]"}},
		{"scopes.1", "patient/Observation.read", []string{"scopes[1]"}},
		{"scopes.1", "patient/Observation.", []string{"scopes[1]"}},
		{"scopes.1", "practitioner/Observation.rs", []string{"scopes[1]"}},
		{"scopes.0", "user/Observation.rs", []string{"scopes[0]"}},
		{"scopes.0", "system/*.rs", []string{"scopes[0]"}},
		{"scopes.1", "patient/Observation.rs", []string{"scopes[1]"}},
		{"scopes.1", "patient/*.cruds", nil},
		{"scopes.1", 7.0, []string{"scopes[1]"}},
		{"purposes", []any{}, []string{"purposes"}},
		{"purposes.1", "TREATX", []string{"purposes[1]"}},
		{"purposes.1", "treat", []string{"purposes[1]"}},
		{"purposes.1", "TREAT", []string{"purposes[1]"}},
		{"purposes.1", "HRESCH", nil},
		{"valid_from", "2026-01-01", []string{"valid_from"}},
		{"valid_from", "2026-01-01t00:00:00z", []string{"valid_from"}},
		{"valid_from", "2026-13-01T00:00:00Z", []string{"valid_from"}},
		{"valid_from", deleted, []string{"valid_from"}},
		{"valid_until", "2025-12-31T23:59:59Z", []string{"valid_until"}},
		{"valid_until", "2026-01-01T01:00:00+01:00", []string{"valid_until"}}, // same instant as valid_from
		{"valid_until", deleted, []string{"valid_until"}},
		{"valid_until", 1767225600.0, []string{"valid_until"}},
		{"excluded_labels", deleted, nil},
		{"excluded_labels", []any{}, nil},
		{"excluded_labels.0", "XYZ", []string{"excluded_labels[0]"}},
		{"excluded_labels.1", "PSY", []string{"excluded_labels[1]"}},
		{"excluded_labels.1", "SUD", nil},
		{"delegable", "yes", []string{"delegable"}},
		{"delegable", deleted, nil},
		{"delegable", true, nil},
	})
}

func TestPractitionerValidation(t *testing.T) {
	runMutations(t, TypePractitioner, []mutation{
		{"", nil, nil},
		{"name", deleted, []string{"name"}},
		{"name", "  ", []string{"name"}},
		{"identifiers", []any{}, []string{"identifiers"}},
		{"identifiers.0.value", "1234567890", []string{"identifiers[0].value"}},
		{"identifiers.0.value", "123456789", []string{"identifiers[0].value"}},
		{"identifiers.0.system", "https://npi.example", []string{"identifiers[0].system"}},
		{"identifiers.0.type", "NATIONAL_REGISTER", []string{"identifiers[0].type"}},
		{"identifiers.0.type", "MRN", []string{"identifiers[0].type"}},
		{"identifiers.1.type", "NPI", []string{"identifiers[1].system", "identifiers[1].value"}},
		{"identifiers.1.value", "P 777", nil},
		{"licence.number", "", []string{"licence.number"}},
		{"licence.number", strings.Repeat("9", 65), []string{"licence.number"}},
		{"licence.jurisdiction", "california", []string{"licence.jurisdiction"}},
		{"licence.jurisdiction", "USA", []string{"licence.jurisdiction"}},
		{"licence.jurisdiction", "DE", nil},
		{"licence.jurisdiction", "GB-ENG", nil},
		{"licence.expires", "2027-13-01", []string{"licence.expires"}},
		{"licence.expires", "2020-01-01", nil}, // expired, but well-formed: see LicenceValidAt
		{"licence", deleted, []string{"licence.expires", "licence.jurisdiction", "licence.number"}},
		{"licence.issuer", "Board", []string{"licence.issuer"}},
		{"role.code", "", []string{"role.code"}},
		{"role.code", "309 343006", []string{"role.code"}},
		{"role.display", deleted, []string{"role.display"}},
		{"role.system", "snomed", []string{"role.system"}},
		{"role.system", deleted, nil},
		{"role", "physician", []string{"role"}},
	})
}

func TestOrganizationValidation(t *testing.T) {
	runMutations(t, TypeOrganization, []mutation{
		{"", nil, nil},
		{"name", deleted, []string{"name"}},
		{"identifiers", deleted, []string{"identifiers"}},
		{"identifiers.0", map[string]any{"system": NPISystem, "value": "1245319599", "type": "NPI"}, nil},
		{"identifiers.0", map[string]any{"system": NPISystem, "value": "1245319590", "type": "NPI"}, []string{"identifiers[0].value"}},
		{"identifiers.0.type", "INSURANCE_MEMBER", []string{"identifiers[0].type"}},
		{"role", "school", []string{"role"}},
		{"role", "public_health", nil},
		{"role", deleted, []string{"role"}},
		{"address", map[string]any{}, []string{"address"}},
		{"address.formatted", "1 Clinic Road\x00", []string{"address.formatted"}},
		{"address", deleted, nil},
		{"website", "https://clinic.example", []string{"website"}},
	})
}

// TestZeroValues checks that the zero value of every type is invalid and
// names each required claim.
func TestZeroValues(t *testing.T) {
	for _, tc := range []struct {
		c    Credential
		want []string
	}{
		{PatientIdentityCredential{}, []string{"assurance_level", "birthdate", "gender", "given_name", "identifiers"}},
		{HealthConsentCredential{}, []string{"grantee.id", "grantee.kind", "grantee.name", "patient", "purposes", "scopes", "valid_from", "valid_until"}},
		{PractitionerCredential{}, []string{"identifiers", "licence.expires", "licence.jurisdiction", "licence.number", "name", "role.code", "role.display"}},
		{OrganizationCredential{}, []string{"identifiers", "name", "role"}},
	} {
		got := fieldsOf(t, tc.c.ValidateAt(testNow))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s{}: invalid fields = %q, want %q", tc.c.CredentialType(), got, tc.want)
		}
	}
}

// TestValidateInGo builds credentials in Go, as the issuer will, and checks
// the rules that need typed values (zero scopes, DIDs).
func TestValidateInGo(t *testing.T) {
	patient, _ := did.Parse("did:example:p1")
	clinic, _ := did.Parse("did:web:clinic.example")
	obs, _ := ParseScope("patient/Observation.rs")
	c := HealthConsentCredential{
		Patient:    patient,
		Grantee:    Grantee{ID: clinic, Name: "Clinic", Kind: GranteeClinic},
		Scopes:     []Scope{obs, {}},
		Purposes:   []PurposeOfUse{PurposeTreatment, ""},
		ValidFrom:  testNow,
		ValidUntil: testNow.Add(time.Hour),
	}
	got := fieldsOf(t, c.ValidateAt(testNow))
	if want := []string{"purposes[1]", "scopes[1]"}; !slices.Equal(got, want) {
		t.Fatalf("fields = %q, want %q", got, want)
	}
	c.Scopes, c.Purposes = c.Scopes[:1], c.Purposes[:1]
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.ActiveAt(testNow) || c.ActiveAt(testNow.Add(-time.Second)) || c.ActiveAt(testNow.Add(time.Hour)) {
		t.Error("ActiveAt is not [ValidFrom, ValidUntil)")
	}
	c.ExcludedLabels = []SensitivityLabel{LabelHIV}
	if !c.Excludes(LabelHIV) || c.Excludes(LabelPsychiatry) {
		t.Error("Excludes")
	}
}

func TestLicenceValidAt(t *testing.T) {
	exp, _ := ParseDate("2026-03-01")
	p := PractitionerCredential{Licence: Licence{Expires: exp}}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC), true},
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 1, 20, 0, 0, 0, time.FixedZone("", -5*3600)), false}, // 2026-03-02 01:00 UTC
		{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		if got := p.LicenceValidAt(tc.at); got != tc.want {
			t.Errorf("LicenceValidAt(%v) = %v", tc.at, got)
		}
	}
	if (PractitionerCredential{}).LicenceValidAt(testNow) {
		t.Error("a zero licence is valid")
	}
}

func TestDate(t *testing.T) {
	for _, s := range []string{"2024-02-29", "0001-01-01", "9999-12-31"} {
		d, err := ParseDate(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDate(%q) = %v, %v", s, d, err)
		}
	}
	for _, s := range []string{"", "2023-02-29", "2024-2-29", "2024-02-29T00:00:00Z", "+2024-02-29", "２０２４-02-29", "2024-00-10"} {
		if _, err := ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) succeeded", s)
		}
	}
	a, _ := ParseDate("2024-02-29")
	b, _ := ParseDate("2024-03-01")
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Error("Compare")
	}
	var z Date
	if !z.IsZero() || z.String() != "" {
		t.Error("zero Date")
	}
}

func TestValidationErrorsText(t *testing.T) {
	m := claimsOf(t, TypePatientIdentity)
	mutate(t, m, "given_name", "Ada\x00")
	mutate(t, m, "identifiers.0.value", "MRN 42 ")
	_, err := DecodeAt(TypePatientIdentity, m, testNow)
	msg := err.Error()
	// Reasons name fields, never values: nothing personal in logs.
	for _, leak := range []string{"Ada", "MRN 42", "Lovelace"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error %q quotes the value %q", msg, leak)
		}
	}
	if !strings.HasPrefix(msg, "2 invalid claims: ") {
		t.Errorf("error = %q", msg)
	}
}
