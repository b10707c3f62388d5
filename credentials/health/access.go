package health

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/medid/medid/did"
)

// Interaction is a SMART v2 interaction, named by its scope letter.
type Interaction rune

// The SMART v2 interactions.
const (
	InteractionCreate Interaction = 'c'
	InteractionRead   Interaction = 'r' // read, vread, history of one instance
	InteractionUpdate Interaction = 'u' // update, patch
	InteractionDelete Interaction = 'd'
	InteractionSearch Interaction = 's' // search, history of a type
)

// Valid reports whether i is one of c, r, u, d and s.
func (i Interaction) Valid() bool { return i != 0 && strings.ContainsRune(permLetters, rune(i)) }

// String returns the interaction's letter, or "?" for an invalid one.
func (i Interaction) String() string {
	if !i.Valid() {
		return "?"
	}
	return string(rune(i))
}

// ConsentStatus is the revocation status of the consent credential, as the
// verifier found it in the credential's status list. The zero value means
// the status was not checked, and Decide denies.
type ConsentStatus string

// The consent statuses.
const (
	// ConsentValid: the status list says the credential is valid (or the
	// credential has no status list entry and the verifier accepts that).
	ConsentValid ConsentStatus = "valid"
	// ConsentRevoked: the issuer has revoked the credential.
	ConsentRevoked ConsentStatus = "revoked"
	// ConsentSuspended: the issuer has suspended the credential.
	ConsentSuspended ConsentStatus = "suspended"
)

// AccessRequest is one attempt to access a patient's data under a
// consent, as the verifier has established it.
type AccessRequest struct {
	// Patient is the DID of the patient whose data is requested.
	Patient did.DID
	// Presenter is the DID of the party asking: the one who presented the
	// consent and proved control of its key.
	Presenter did.DID
	// DelegatedBy, when the presenter acts for the grantee under a
	// delegation it has shown, is the DID of the grantee that delegated
	// (delegated_by). Zero when the presenter acts for itself.
	DelegatedBy did.DID
	// ResourceType is the FHIR resource type accessed, or "*" for a
	// request across all types (a system-wide search).
	ResourceType string
	// Interaction is the SMART interaction: c, r, u, d or s.
	Interaction Interaction
	// Params describes the data the request touches, as Scope.Allows
	// explains: for a search, its search parameters; for a read, update
	// or delete, the values of the constrained search parameters that the
	// target resource matches (e.g. category=laboratory).
	Params url.Values
	// Purpose is the HL7 PurposeOfUse the data is requested for.
	Purpose PurposeOfUse
	// Labels are the HL7 sensitivity labels of the data touched.
	Labels []SensitivityLabel
	// Time is when the access takes place; zero means the decision time.
	Time time.Time
	// ConsentStatus is the consent credential's status as the verifier
	// checked it.
	ConsentStatus ConsentStatus
}

// ReasonCode identifies why a decision went the way it did. Codes are
// stable; messages may change.
type ReasonCode string

// The reason codes. Every code but ReasonScopeGranted denies.
const (
	// ReasonScopeGranted (permit): a scope of the consent grants the
	// request; the message names the scope.
	ReasonScopeGranted ReasonCode = "scope_granted"

	ReasonInvalidConsent     ReasonCode = "invalid_consent"   // the consent's claims are not valid
	ReasonInvalidRequest     ReasonCode = "invalid_request"   // the request is incomplete or malformed
	ReasonStatusUnknown      ReasonCode = "status_unknown"    // the consent's status was not checked
	ReasonRevoked            ReasonCode = "consent_revoked"   // the consent is revoked
	ReasonSuspended          ReasonCode = "consent_suspended" // the consent is suspended
	ReasonNotYetValid        ReasonCode = "consent_not_yet_valid"
	ReasonExpired            ReasonCode = "consent_expired"
	ReasonPatientMismatch    ReasonCode = "patient_mismatch"    // the consent is another patient's
	ReasonGranteeMismatch    ReasonCode = "grantee_mismatch"    // the presenter is not the grantee
	ReasonNotDelegable       ReasonCode = "not_delegable"       // a delegate presented a non-delegable consent
	ReasonDelegationMismatch ReasonCode = "delegation_mismatch" // the delegation is not from the grantee
	ReasonPurposeNotGranted  ReasonCode = "purpose_not_granted"
	ReasonLabelExcluded      ReasonCode = "label_excluded" // the data carries a label the consent excludes
	ReasonScopeNotGranted    ReasonCode = "scope_not_granted"
)

// Reason is one ground of a decision. Messages name codes, scopes,
// resource types and times, never patient data beyond what the request
// itself names, so a decision can be logged and shown to the patient.
type Reason struct {
	Code    ReasonCode
	Message string
}

// Decision is the outcome of Decide: Permit, and every reason behind it.
// A denial lists every rule the request breaks, not only the first.
type Decision struct {
	Permit  bool
	Reasons []Reason
}

// Has reports whether the decision lists a reason with the given code.
func (d Decision) Has(code ReasonCode) bool {
	return slices.ContainsFunc(d.Reasons, func(r Reason) bool { return r.Code == code })
}

// Decide decides whether consent permits req at time now. It is pure: the
// caller has verified the consent credential and checked its status
// (req.ConsentStatus), and authenticated the presenter.
//
// Every rule is evaluated, and any denial wins over a granting scope:
//
//   - the consent must be valid (ValidateAt) and the request complete: a
//     patient, a presenter, a known FHIR resource type (or "*"), one of the
//     interactions c, r, u, d, s, a known purpose and known labels;
//   - the status must be ConsentValid: revoked, suspended or unchecked
//     denies;
//   - the consent must be in force (ValidFrom <= t < ValidUntil) at now
//     and, if req.Time is set, at req.Time too;
//   - the consent must be req.Patient's;
//   - the presenter must be the grantee, unless the consent is delegable
//     and the presenter shows a delegation from the grantee
//     (req.DelegatedBy == grantee);
//   - req.Purpose must be one of the consent's purposes (exact codes: a
//     TREAT grant does not cover ETREAT);
//   - no label of the data may be one the consent excludes (exact codes:
//     the data source must label data with every applicable code);
//   - some scope must allow the interaction on the resource type with
//     req.Params (Scope.Allows): wildcards "patient/*.rs" cover every
//     type, and a scope with a filter "?category=x" grants only requests
//     that carry that filter.
func Decide(consent HealthConsentCredential, req AccessRequest, now time.Time) Decision {
	var d Decision
	deny := func(code ReasonCode, format string, args ...any) {
		d.Reasons = append(d.Reasons, Reason{code, fmt.Sprintf(format, args...)})
	}

	if err := consent.ValidateAt(now); err != nil {
		deny(ReasonInvalidConsent, "the consent is not valid: %v", err)
	}
	checkRequest(&req, deny)

	switch req.ConsentStatus {
	case ConsentValid:
	case ConsentRevoked:
		deny(ReasonRevoked, "the consent has been revoked")
	case ConsentSuspended:
		deny(ReasonSuspended, "the consent is suspended")
	default:
		deny(ReasonStatusUnknown, "the consent's status was not checked")
	}

	times := []time.Time{now}
	if !req.Time.IsZero() && !req.Time.Equal(now) {
		times = append(times, req.Time)
	}
	for _, t := range times {
		switch {
		case consent.ValidFrom.IsZero() || consent.ValidUntil.IsZero():
			// Reported as an invalid consent.
		case t.Before(consent.ValidFrom):
			deny(ReasonNotYetValid, "the consent is in force from %s; access at %s", consent.ValidFrom.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		case !t.Before(consent.ValidUntil):
			deny(ReasonExpired, "the consent ended at %s; access at %s", consent.ValidUntil.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		}
	}

	if !req.Patient.IsZero() && req.Patient != consent.Patient {
		deny(ReasonPatientMismatch, "the consent is not the requested patient's")
	}

	grantee := consent.Grantee.ID
	switch {
	case req.Presenter.IsZero():
		// Reported as an invalid request.
	case req.DelegatedBy.IsZero():
		if req.Presenter != grantee {
			deny(ReasonGranteeMismatch, "the presenter is not the grantee, and shows no delegation")
		}
	default:
		if !consent.Delegable {
			deny(ReasonNotDelegable, "the presenter acts under a delegation, but the consent is not delegable")
		}
		if req.DelegatedBy != grantee {
			deny(ReasonDelegationMismatch, "the delegation is not from the grantee")
		}
	}

	if req.Purpose != "" && !slices.Contains(consent.Purposes, req.Purpose) {
		if req.Purpose.Known() {
			deny(ReasonPurposeNotGranted, "purpose %s is not granted", req.Purpose)
		} else {
			deny(ReasonPurposeNotGranted, "the purpose is not granted")
		}
	}

	seen := map[SensitivityLabel]bool{}
	for _, l := range req.Labels {
		if consent.Excludes(l) && !seen[l] {
			seen[l] = true
			deny(ReasonLabelExcluded, "the data is labelled %s, which the consent excludes", l)
		}
	}

	var granted []string
	if req.Interaction.Valid() {
		for _, s := range consent.Scopes {
			if s.Context() == PatientContext && s.Allows(rune(req.Interaction), req.ResourceType, req.Params) {
				granted = append(granted, s.String())
			}
		}
	}
	if len(granted) == 0 {
		deny(ReasonScopeNotGranted, "no scope grants %s on %s with these parameters", req.Interaction, resourceName(req.ResourceType))
	}

	if len(d.Reasons) > 0 {
		return d
	}
	d.Permit = true
	for _, s := range granted {
		d.Reasons = append(d.Reasons, Reason{ReasonScopeGranted, "granted by scope " + s})
	}
	return d
}

func checkRequest(req *AccessRequest, deny func(ReasonCode, string, ...any)) {
	if req.Patient.IsZero() {
		deny(ReasonInvalidRequest, "the request names no patient")
	}
	if req.Presenter.IsZero() {
		deny(ReasonInvalidRequest, "the request names no presenter")
	}
	if req.ResourceType != "*" && !IsResourceType(req.ResourceType) {
		deny(ReasonInvalidRequest, "the request names no known FHIR resource type")
	}
	if !req.Interaction.Valid() {
		deny(ReasonInvalidRequest, "the interaction is not one of c, r, u, d, s")
	}
	switch {
	case req.Purpose == "":
		deny(ReasonInvalidRequest, "the request states no purpose of use")
	case !req.Purpose.Known():
		deny(ReasonInvalidRequest, "the purpose of use is not an HL7 PurposeOfUse code")
	}
	for _, l := range req.Labels {
		if !l.Known() {
			// Data labelled with a code we cannot interpret might be
			// exactly what the patient excluded: refuse rather than guess.
			deny(ReasonInvalidRequest, "the data carries a label that is not an HL7 sensitivity label")
			break
		}
	}
}

func resourceName(rt string) string {
	if rt == "*" || IsResourceType(rt) {
		return rt
	}
	return "an unknown resource type"
}
