package health

import (
	"slices"
	"time"
)

// Gender is a FHIR administrative gender (male | female | other | unknown):
// the gender used for administration and record keeping, not a clinical
// statement.
type Gender string

// The FHIR administrative genders.
const (
	GenderMale    Gender = "male"
	GenderFemale  Gender = "female"
	GenderOther   Gender = "other"
	GenderUnknown Gender = "unknown"
)

var genders = []Gender{GenderMale, GenderFemale, GenderOther, GenderUnknown}

// AssuranceLevel is the eIDAS level of assurance (Regulation (EU) No
// 910/2014, Art. 8; Implementing Regulation (EU) 2015/1502) with which the
// issuer verified the patient's identity before issuing. medid uses the
// eIDAS scheme because its credential formats (SD-JWT VC, OpenID4VCI/VP)
// are those of the EU Digital Identity Wallet, which is built on it.
// NIST SP 800-63 identity assurance levels are not the same scale; an
// issuer working to NIST states the eIDAS level it meets (roughly, IAL2
// evidence with remote verification meets "substantial" and IAL3
// in-person verification "high", but the mapping is the issuer's to make).
type AssuranceLevel string

// The eIDAS levels of assurance.
const (
	AssuranceLow         AssuranceLevel = "low"
	AssuranceSubstantial AssuranceLevel = "substantial"
	AssuranceHigh        AssuranceLevel = "high"
)

var assuranceLevels = []AssuranceLevel{AssuranceLow, AssuranceSubstantial, AssuranceHigh}

// earliestBirthdate is the earliest birthdate accepted: a sanity bound
// against placeholder dates such as 0001-01-01.
var earliestBirthdate = Date{1850, time.January, 1}

// PatientIdentityCredential attests who a patient is: their name, date of
// birth and administrative gender, and the identifiers under which care
// providers and insurers know them.
type PatientIdentityCredential struct {
	// GivenName and FamilyName are the patient's names (OIDC given_name,
	// family_name). At least one is required, so people with a single
	// name can be represented.
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	// Birthdate is the date of birth (OIDC birthdate): a real date, not in
	// the future and not before 1850.
	Birthdate Date `json:"birthdate"`
	// Gender is the FHIR administrative gender.
	Gender Gender `json:"gender"`
	// Identifiers are the patient's identifiers (at least one) of types
	// MRN, NHI, INSURANCE_MEMBER or NATIONAL_ID.
	Identifiers []Identifier `json:"identifiers"`
	// Address is the patient's postal address (OIDC address); optional.
	Address *Address `json:"address,omitempty"`
	// AssuranceLevel is the eIDAS level at which the issuer verified the
	// patient's identity.
	AssuranceLevel AssuranceLevel `json:"assurance_level"`
}

// CredentialType returns "PatientIdentityCredential".
func (PatientIdentityCredential) CredentialType() string { return TypePatientIdentity }

// Validate is ValidateAt(time.Now()).
func (p PatientIdentityCredential) Validate() error { return p.ValidateAt(time.Now()) }

// ValidateAt checks every claim, with now as the current time (the
// birthdate must not be after today anywhere on Earth, that is after now's
// date in UTC+14). It returns nil or a ValidationErrors naming each invalid
// claim.
func (p PatientIdentityCredential) ValidateAt(now time.Time) error {
	var c collector
	if p.GivenName == "" && p.FamilyName == "" {
		c.add("given_name", "given_name or family_name is required")
	}
	if p.GivenName != "" {
		checkText(&c, "given_name", p.GivenName, maxText, false)
	}
	if p.FamilyName != "" {
		checkText(&c, "family_name", p.FamilyName, maxText, false)
	}
	latest := DateOf(now.UTC().Add(14 * time.Hour))
	switch {
	case p.Birthdate.IsZero():
		c.add("birthdate", "required")
	case p.Birthdate.Compare(latest) > 0:
		c.add("birthdate", "in the future")
	case p.Birthdate.Compare(earliestBirthdate) < 0:
		c.add("birthdate", "before "+earliestBirthdate.String())
	}
	checkEnum(&c, "gender", p.Gender, genders)
	validateIdentifiers(&c, "identifiers", p.Identifiers, patientIdentifierTypes)
	if p.Address != nil {
		validateAddress(&c, "address", p.Address)
	}
	checkEnum(&c, "assurance_level", p.AssuranceLevel, assuranceLevels)
	return c.err()
}

// checkEnum checks a required claim whose value must be one of allowed.
func checkEnum[T ~string](c *collector, field string, v T, allowed []T) {
	switch {
	case v == "":
		c.add(field, "required")
	case !slices.Contains(allowed, v):
		c.add(field, "not one of "+list(allowed))
	}
}
