package dcql

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/medid/medid/credentials/health"
)

// The names of the built-in query templates.
const (
	TemplatePatientIdentity = "patient-identity"
	TemplateConsent         = "consent"
)

// TemplateNames returns the names Template accepts, sorted.
func TemplateNames() []string { return []string{TemplateConsent, TemplatePatientIdentity} }

// Template returns the built-in query named name for credentials issued
// by the medid issuer at issuerBaseURL (whose vct URLs they name).
func Template(name, issuerBaseURL string) (*Query, error) {
	switch name {
	case TemplatePatientIdentity:
		return PatientIdentity(issuerBaseURL)
	case TemplateConsent:
		return Consent(issuerBaseURL)
	}
	return nil, fmt.Errorf("%w: unknown template (want one of %v)", ErrInvalidQuery, TemplateNames())
}

// The Credential Query IDs the templates use, which are also the keys of
// the vp_token that answers them.
const (
	PatientIdentityID = "patient_identity"
	ConsentID         = "consent"
)

// PatientIdentity returns the query for a PatientIdentityCredential in
// dc+sd-jwt with holder binding, disclosing the patient's names and date
// of birth. A patient may have a single name (health requires only one of
// given_name and family_name), so the claim sets accept, in order of
// preference, both names, the given name alone or the family name alone,
// each with the birthdate.
func PatientIdentity(issuerBaseURL string) (*Query, error) {
	if err := checkBase(issuerBaseURL); err != nil {
		return nil, err
	}
	t, err := healthType(health.TypePatientIdentity)
	if err != nil {
		return nil, err
	}
	q := &Query{Credentials: []CredentialQuery{{
		ID: PatientIdentityID, Format: FormatSDJWTVC, RequireHolderBinding: true,
		Meta: Meta{VCTValues: []string{t.VCT(issuerBaseURL)}},
		Claims: []ClaimQuery{
			{ID: "given_name", Path: Path{"given_name"}},
			{ID: "family_name", Path: Path{"family_name"}},
			{ID: "birthdate", Path: Path{"birthdate"}},
		},
		ClaimSets: [][]string{
			{"given_name", "family_name", "birthdate"},
			{"given_name", "birthdate"},
			{"family_name", "birthdate"},
		},
	}}}
	return checked(q, t)
}

// Consent returns the query for a HealthConsentCredential in dc+sd-jwt
// with holder binding, requesting every claim an access decision needs:
// patient, grantee, scopes, purposes, the validity period, the excluded
// sensitivity labels and delegable. excluded_labels is optional in a
// consent, so the second claim set accepts a consent without it. (No claim
// of a consent is selectively disclosable, so a presentation shows them
// all anyway; naming them lets the wallet show the patient what is asked.)
func Consent(issuerBaseURL string) (*Query, error) {
	if err := checkBase(issuerBaseURL); err != nil {
		return nil, err
	}
	t, err := healthType(health.TypeHealthConsent)
	if err != nil {
		return nil, err
	}
	names := []string{"patient", "grantee", "scopes", "purposes", "valid_from", "valid_until", "delegable", "excluded_labels"}
	cq := CredentialQuery{
		ID: ConsentID, Format: FormatSDJWTVC, RequireHolderBinding: true,
		Meta: Meta{VCTValues: []string{t.VCT(issuerBaseURL)}},
	}
	for _, n := range names {
		cq.Claims = append(cq.Claims, ClaimQuery{ID: n, Path: Path{n}})
	}
	cq.ClaimSets = [][]string{names, names[:len(names)-1]}
	return checked(&Query{Credentials: []CredentialQuery{cq}}, t)
}

// checkBase refuses a base URL that could not prefix a vct.
func checkBase(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: the issuer base URL must be an absolute http(s) URL without query or fragment", ErrInvalidQuery)
	}
	return nil
}

func healthType(name string) (health.Type, error) {
	i := slices.IndexFunc(health.Types(), func(t health.Type) bool { return t.Name == name })
	if i < 0 {
		return health.Type{}, fmt.Errorf("dcql: health type %s not found", name)
	}
	return health.Types()[i], nil
}

// checked validates q and that every claim it names is a top-level claim
// of t, so a renamed claim in health breaks the templates loudly.
func checked(q *Query, t health.Type) (*Query, error) {
	for _, cq := range q.Credentials {
		for _, cl := range cq.Claims {
			if !slices.ContainsFunc(t.Claims, func(c health.Claim) bool { return Path(c.Path).Equal(cl.Path) }) {
				return nil, fmt.Errorf("dcql: template claim %s is not a claim of %s", cl.Path, t.Name)
			}
		}
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}
