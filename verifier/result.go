package verifier

import (
	"crypto"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// CheckName names a check.
type CheckName string

// The checks, in the order they run.
const (
	CheckSignature     CheckName = "signature"
	CheckValidity      CheckName = "validity"
	CheckStatus        CheckName = "status"
	CheckSchema        CheckName = "schema"
	CheckIssuerTrust   CheckName = "issuer_trust"
	CheckHolderBinding CheckName = "holder_binding"
)

// credentialChecks is every check of a credential, in order.
var credentialChecks = []CheckName{CheckSignature, CheckValidity, CheckStatus, CheckSchema, CheckIssuerTrust, CheckHolderBinding}

// Check is the outcome of one check.
type Check struct {
	Name CheckName `json:"name"`
	// Target says what was checked: "credential" for a credential on its
	// own, "presentation" for a presentation's own proof, and
	// "verifiableCredential[i]" for the i-th credential of a presentation.
	Target string `json:"target"`
	// OK is true when the check passed or was not applicable.
	OK bool `json:"ok"`
	// Skipped is true when the check did not run: not applicable (OK) or
	// not reached because an earlier check failed (not OK).
	Skipped bool `json:"skipped,omitempty"`
	// Reason explains the outcome. It never holds claim values.
	Reason string `json:"reason,omitempty"`
}

// Format names a credential or presentation format.
type Format string

// The formats.
const (
	// FormatSDJWTVC is an SD-JWT VC (typ dc+sd-jwt).
	FormatSDJWTVC Format = "dc+sd-jwt"
	// FormatJWTVCJSON is a VCDM 1.1 credential in a JWT's vc claim, and,
	// for presentations, a JWT VP with a vp claim.
	FormatJWTVCJSON Format = "jwt_vc_json"
	// FormatVCJWT is a VCDM 2.0 credential secured with VC-JOSE-COSE.
	FormatVCJWT Format = "vc+jwt"
	// FormatLDPVC is a credential or presentation with a Data Integrity
	// proof.
	FormatLDPVC Format = "ldp_vc"
)

// Status values of a verified credential.
const (
	// StatusNone: the credential has no status entry.
	StatusNone = "none"
	// StatusValid: every status entry says valid.
	StatusValid = "valid"
	// StatusUnknown: a status list could not be fetched and the
	// fail-open policy accepted the credential anyway.
	StatusUnknown = "unknown"
)

// Verified is a credential that passed every check. Its fields are
// unexported, so only this package can make one. It holds personal data:
// do not log it.
type Verified struct {
	format     Format
	id         string
	issuer     string
	subject    string
	types      []string
	claims     map[string]any
	disclosed  [][]any
	holder     crypto.PublicKey
	keyBound   bool
	issuedAt   time.Time
	validFrom  time.Time
	validUntil time.Time
	status     string
	checks     []Check
}

// Format returns the credential's format.
func (v *Verified) Format() Format { return v.format }

// ID returns the credential's id (jti or id), or "".
func (v *Verified) ID() string { return v.id }

// Issuer returns the issuer's DID.
func (v *Verified) Issuer() string { return v.issuer }

// Subject returns the subject: sub, or credentialSubject.id; "" if none.
func (v *Verified) Subject() string { return v.subject }

// Types returns the credential's types: the vct of an SD-JWT VC, the
// types of a W3C VC other than VerifiableCredential.
func (v *Verified) Types() []string { return slices.Clone(v.types) }

// Claims returns a deep copy of the claims the credential revealed: for an
// SD-JWT VC the always-visible and the disclosed claims, for a W3C VC the
// credentialSubject's (without id). Envelope claims (iss, iat, cnf, vct,
// status, …) are not included. Values are decoded JSON; numbers are
// json.Number (SD-JWT VC) or float64 (other formats).
func (v *Verified) Claims() map[string]any { return deepCopy(v.claims).(map[string]any) }

// Claim returns a copy of the top-level claim name.
func (v *Verified) Claim(name string) (any, bool) {
	c, ok := v.claims[name]
	if !ok {
		return nil, false
	}
	return deepCopy(c), true
}

// ClaimNames returns the names of the revealed top-level claims, sorted.
func (v *Verified) ClaimNames() []string {
	return slices.Sorted(maps.Keys(v.claims))
}

// Disclosed returns the claim paths an SD-JWT VC disclosed selectively
// (nil for other formats).
func (v *Verified) Disclosed() [][]any {
	out := make([][]any, len(v.disclosed))
	for i, p := range v.disclosed {
		out[i] = slices.Clone(p)
	}
	return out
}

// Holder returns the key the credential is bound to (cnf.jwk), or nil.
func (v *Verified) Holder() crypto.PublicKey { return v.holder }

// KeyBound reports whether the holder proved possession of Holder for our
// nonce and audience (an SD-JWT VC presented with a Key Binding JWT).
func (v *Verified) KeyBound() bool { return v.keyBound }

// IssuedAt returns iat (or, lacking it, validFrom); zero if neither.
func (v *Verified) IssuedAt() time.Time { return v.issuedAt }

// ValidFrom returns nbf or validFrom; zero if unset.
func (v *Verified) ValidFrom() time.Time { return v.validFrom }

// ValidUntil returns exp or validUntil; zero if unset.
func (v *Verified) ValidUntil() time.Time { return v.validUntil }

// Status returns StatusNone, StatusValid or StatusUnknown.
func (v *Verified) Status() string { return v.status }

// Checks returns the checks the credential passed.
func (v *Verified) Checks() []Check { return slices.Clone(v.checks) }

// String does not print claims.
func (v *Verified) String() string {
	return "verifier.Verified(" + string(v.format) + " " + strings.Join(v.types, ",") + ")"
}

// verifiedJSON is the JSON view of a Verified that the VC-API returns.
type verifiedJSON struct {
	Format     Format         `json:"format"`
	ID         string         `json:"id,omitempty"`
	Issuer     string         `json:"issuer"`
	Subject    string         `json:"subject,omitempty"`
	Types      []string       `json:"types"`
	Claims     map[string]any `json:"claims"`
	KeyBound   bool           `json:"key_bound"`
	IssuedAt   *time.Time     `json:"issued_at,omitempty"`
	ValidFrom  *time.Time     `json:"valid_from,omitempty"`
	ValidUntil *time.Time     `json:"valid_until,omitempty"`
	Status     string         `json:"status"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// MarshalJSON renders the verified credential for an API response.
func (v *Verified) MarshalJSON() ([]byte, error) { return json.Marshal(v.view()) }

// view is v's JSON view. Responses marshal views rather than the types
// with MarshalJSON methods: encoding/json re-scans every byte a
// MarshalJSON returns, once per level of nesting.
func (v *Verified) view() verifiedJSON {
	return verifiedJSON{Format: v.format, ID: v.id, Issuer: v.issuer, Subject: v.subject, Types: v.types,
		Claims: v.claims, KeyBound: v.keyBound, IssuedAt: timePtr(v.issuedAt), ValidFrom: timePtr(v.validFrom),
		ValidUntil: timePtr(v.validUntil), Status: v.status}
}

// VerifiedPresentation is a presentation that passed every check, with
// its verified credentials. Its fields are unexported.
type VerifiedPresentation struct {
	format      Format
	holder      string
	holderKey   crypto.PublicKey
	nonce       string
	audience    string
	credentials []*Verified
	checks      []Check
}

// Format returns the presentation's format.
func (p *VerifiedPresentation) Format() Format { return p.format }

// Holder returns the presenter's DID, or "" for an SD-JWT VC presentation
// (whose holder is a key: see HolderKey).
func (p *VerifiedPresentation) Holder() string { return p.holder }

// HolderKey returns the key that proved possession: the VP's signing key,
// or the SD-JWT VC's cnf.jwk.
func (p *VerifiedPresentation) HolderKey() crypto.PublicKey { return p.holderKey }

// Nonce and Audience return the values the presentation was bound to.
func (p *VerifiedPresentation) Nonce() string    { return p.nonce }
func (p *VerifiedPresentation) Audience() string { return p.audience }

// Credentials returns the verified credentials, in presentation order.
func (p *VerifiedPresentation) Credentials() []*Verified { return slices.Clone(p.credentials) }

// Checks returns every check of the presentation and its credentials.
func (p *VerifiedPresentation) Checks() []Check { return slices.Clone(p.checks) }

// MarshalJSON renders the presentation for an API response.
func (p *VerifiedPresentation) MarshalJSON() ([]byte, error) { return json.Marshal(p.view()) }

// presentationJSON is the JSON view of a VerifiedPresentation.
type presentationJSON struct {
	Format      Format         `json:"format"`
	Holder      string         `json:"holder,omitempty"`
	Credentials []verifiedJSON `json:"credentials"`
}

func (p *VerifiedPresentation) view() presentationJSON {
	creds := make([]verifiedJSON, len(p.credentials))
	for i, c := range p.credentials {
		creds[i] = c.view()
	}
	return presentationJSON{Format: p.format, Holder: p.holder, Credentials: creds}
}

// VerificationError is returned when a check failed. It lists every check,
// failed, passed and skipped, in order.
type VerificationError struct {
	Checks []Check
}

// Failed returns the failed checks.
func (e *VerificationError) Failed() []Check {
	var out []Check
	for _, c := range e.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// FailedNames returns the names of the failed checks that ran (not the
// skipped ones), in order, without repeats.
func (e *VerificationError) FailedNames() []CheckName {
	var out []CheckName
	for _, c := range e.Checks {
		if !c.OK && !c.Skipped && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// Has reports whether check name failed (and ran) for any target.
func (e *VerificationError) Has(name CheckName) bool {
	return slices.Contains(e.FailedNames(), name)
}

// Reason returns the reason the first failed check called name gave, or
// "".
func (e *VerificationError) Reason(name CheckName) string {
	for _, c := range e.Checks {
		if c.Name == name && !c.OK && !c.Skipped {
			return c.Reason
		}
	}
	return ""
}

func (e *VerificationError) Error() string {
	var parts []string
	for _, c := range e.Checks {
		if !c.OK && !c.Skipped {
			parts = append(parts, string(c.Name)+" ("+c.Target+"): "+c.Reason)
		}
	}
	if len(parts) == 0 {
		return "verifier: verification failed"
	}
	sort.Strings(parts[1:])
	return "verifier: verification failed: " + strings.Join(parts, "; ")
}

// Input errors: the value is not something the verifier can check at all.
var (
	// ErrMalformed: not a credential or presentation in a known encoding
	// (a compact JWS or SD-JWT string, an enveloped credential, or a JSON
	// object with a Data Integrity proof).
	ErrMalformed = errors.New("verifier: malformed input")
	// ErrTooLarge: a token exceeds MaxTokenSize.
	ErrTooLarge = errors.New("verifier: token too large")
	// ErrUnsupported: a format the verifier cannot check (for example
	// Data Integrity without Options.DataIntegrity).
	ErrUnsupported = errors.New("verifier: unsupported format")
	// ErrHolderBinding may be wrapped by a DataIntegrityFunc's error when
	// the proof's challenge or domain is not the expected one, so that
	// the failure is reported as holder_binding rather than signature.
	ErrHolderBinding = errors.New("verifier: holder binding failed")
)

// deepCopy copies decoded JSON.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}
