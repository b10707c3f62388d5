package health

import (
	"slices"
	"time"

	"github.com/medid/medid/did"
)

// GranteeKind is the kind of party a consent is granted to.
type GranteeKind string

// The grantee kinds.
const (
	GranteeClinic       GranteeKind = "clinic"       // a care provider organization
	GranteePractitioner GranteeKind = "practitioner" // an individual health professional
	GranteePlatform     GranteeKind = "platform"     // an application or data platform
)

var granteeKinds = []GranteeKind{GranteeClinic, GranteePractitioner, GranteePlatform}

// Grantee is the party a consent is granted to.
type Grantee struct {
	// ID is the grantee's DID.
	ID did.DID `json:"id"`
	// Name is the grantee's display name, shown to the patient.
	Name string `json:"name"`
	// Kind says whether the grantee is a clinic, a practitioner or a
	// platform.
	Kind GranteeKind `json:"kind"`
}

// HealthConsentCredential is a patient's consent for a grantee to access
// part of their health data: which FHIR resources and interactions
// (Scopes), for which purposes, for how long, and with which sensitive
// categories left out.
//
// Every claim of a consent is part of an access-control decision, and
// hiding one could widen the grant (an undisclosed valid_until or
// excluded_labels would make the consent look longer-lived or broader than
// it is), so no claim of this type may be selectively disclosable (see
// Types).
type HealthConsentCredential struct {
	// Patient is the DID of the patient who consents, whose data the
	// consent covers.
	Patient did.DID `json:"patient"`
	// Grantee is who may access the data.
	Grantee Grantee `json:"grantee"`
	// Scopes are the SMART v2 scopes granted (at least one, no
	// duplicates). A patient can consent only to their own data, so every
	// scope must be in the patient context ("patient/...").
	Scopes []Scope `json:"scopes"`
	// Purposes are the HL7 PurposeOfUse codes the data may be used for (at
	// least one, no duplicates).
	Purposes []PurposeOfUse `json:"purposes"`
	// ValidFrom and ValidUntil bound the consent: it is in force from
	// ValidFrom (inclusive) to ValidUntil (exclusive). Both are required,
	// and ValidFrom is before ValidUntil.
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	// ExcludedLabels are HL7 sensitivity labels whose data the consent
	// does not cover, whatever the scopes say (no duplicates); optional.
	ExcludedLabels []SensitivityLabel `json:"excluded_labels,omitempty"`
	// Delegable says whether the grantee may pass the access on to
	// others acting for it.
	Delegable bool `json:"delegable"`
}

// CredentialType returns "HealthConsentCredential".
func (HealthConsentCredential) CredentialType() string { return TypeHealthConsent }

// Validate is ValidateAt(time.Now()).
func (h HealthConsentCredential) Validate() error { return h.ValidateAt(time.Now()) }

// ValidateAt checks every claim. A consent's validity does not depend on
// the current time (an expired consent is still a well-formed one; see
// ActiveAt), so now is unused; the method exists so that every credential
// type validates the same way. It returns nil or a ValidationErrors naming
// each invalid claim.
func (h HealthConsentCredential) ValidateAt(now time.Time) error {
	var c collector
	if h.Patient.IsZero() {
		c.add("patient", "required (a DID)")
	}
	if h.Grantee.ID.IsZero() {
		c.add("grantee.id", "required (a DID)")
	}
	checkText(&c, "grantee.name", h.Grantee.Name, maxText, false)
	checkEnum(&c, "grantee.kind", h.Grantee.Kind, granteeKinds)

	if len(h.Scopes) == 0 {
		c.add("scopes", "at least one scope is required")
	}
	seenScope := map[string]bool{}
	for i, s := range h.Scopes {
		f := index("scopes", i)
		switch {
		case s.IsZero():
			c.add(f, "required (a SMART v2 scope)")
		case s.Context() != PatientContext:
			c.add(f, "a patient can consent only to patient/ scopes")
		case seenScope[s.String()]:
			c.add(f, "duplicate scope")
		}
		seenScope[s.String()] = true
	}

	if len(h.Purposes) == 0 {
		c.add("purposes", "at least one purpose of use is required")
	}
	checkCodes(&c, "purposes", h.Purposes, PurposeOfUse.Known, "not an HL7 PurposeOfUse code")

	if h.ValidFrom.IsZero() {
		c.add("valid_from", "required")
	}
	if h.ValidUntil.IsZero() {
		c.add("valid_until", "required")
	}
	if !h.ValidFrom.IsZero() && !h.ValidUntil.IsZero() && !h.ValidFrom.Before(h.ValidUntil) {
		c.add("valid_until", "not after valid_from")
	}

	checkCodes(&c, "excluded_labels", h.ExcludedLabels, SensitivityLabel.Known, "not an HL7 sensitivity label")
	return c.err()
}

// ActiveAt reports whether the consent is in force at t: ValidFrom <= t <
// ValidUntil. It does not validate the consent.
func (h HealthConsentCredential) ActiveAt(t time.Time) bool {
	return !t.Before(h.ValidFrom) && t.Before(h.ValidUntil)
}

// Excludes reports whether data labelled l is excluded from the consent.
func (h HealthConsentCredential) Excludes(l SensitivityLabel) bool {
	return slices.Contains(h.ExcludedLabels, l)
}

// checkCodes checks a list of codes: each known, none repeated.
func checkCodes[T ~string](c *collector, field string, codes []T, known func(T) bool, unknown string) {
	seen := map[T]bool{}
	for i, v := range codes {
		f := index(field, i)
		switch {
		case v == "":
			c.add(f, "required")
		case !known(v):
			c.add(f, unknown)
		case seen[v]:
			c.add(f, "duplicate code")
		}
		seen[v] = true
	}
}
