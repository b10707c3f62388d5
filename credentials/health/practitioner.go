package health

import (
	"time"
)

// Licence is a practitioner's licence to practise.
type Licence struct {
	// Number is the licence number in the licensing jurisdiction's
	// register.
	Number string `json:"number"`
	// Jurisdiction is where the licence is valid: an ISO 3166-1 alpha-2
	// country code ("DE") or an ISO 3166-2 subdivision code ("US-CA").
	Jurisdiction string `json:"jurisdiction"`
	// Expires is the last day on which the licence is valid.
	Expires Date `json:"expires"`
}

// PractitionerCredential attests that a person is a licensed health
// professional in a given role.
type PractitionerCredential struct {
	// Name is the practitioner's full name (OIDC name).
	Name string `json:"name"`
	// Identifiers are the practitioner's identifiers (at least one): an
	// NPI (type NPI, system NPISystem, with a valid check digit) or a
	// number in a national register of professionals (type
	// NATIONAL_REGISTER).
	Identifiers []Identifier `json:"identifiers"`
	// Licence is the licence to practise.
	Licence Licence `json:"licence"`
	// Role is the practitioner's professional role, e.g. SNOMED CT
	// 309343006 "Physician" or an HL7 practitioner-role code.
	Role Coding `json:"role"`
}

// CredentialType returns "PractitionerCredential".
func (PractitionerCredential) CredentialType() string { return TypePractitioner }

// Validate is ValidateAt(time.Now()).
func (p PractitionerCredential) Validate() error { return p.ValidateAt(time.Now()) }

// ValidateAt checks every claim. Whether the licence has expired is not a
// matter of well-formedness (see LicenceValidAt), so now is unused. It
// returns nil or a ValidationErrors naming each invalid claim.
func (p PractitionerCredential) ValidateAt(now time.Time) error {
	var c collector
	checkText(&c, "name", p.Name, maxText, false)
	validateIdentifiers(&c, "identifiers", p.Identifiers, providerIdentifierTypes)
	if reason := textProblem(p.Licence.Number, maxLicenceNo, false); reason != "" {
		c.add("licence.number", reason)
	}
	if !isJurisdiction(p.Licence.Jurisdiction) {
		c.add("licence.jurisdiction", "not an ISO 3166-1 alpha-2 or ISO 3166-2 code (e.g. DE, US-CA)")
	}
	if p.Licence.Expires.IsZero() {
		c.add("licence.expires", "required")
	}
	validateCoding(&c, "role", p.Role)
	return c.err()
}

// LicenceValidAt reports whether the licence is still valid at t: t's date
// in UTC is not after Licence.Expires.
func (p PractitionerCredential) LicenceValidAt(t time.Time) bool {
	return !p.Licence.Expires.IsZero() && DateOf(t.UTC()).Compare(p.Licence.Expires) <= 0
}

// isJurisdiction reports whether s looks like an ISO 3166-1 alpha-2 code,
// optionally followed by an ISO 3166-2 subdivision ("-" and one to three
// letters or digits).
func isJurisdiction(s string) bool {
	if len(s) != 2 && (len(s) < 4 || len(s) > 6 || s[2] != '-') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 2:
		case i < 2 && 'A' <= c && c <= 'Z':
		case i > 2 && ('A' <= c && c <= 'Z' || '0' <= c && c <= '9'):
		default:
			return false
		}
	}
	return true
}
